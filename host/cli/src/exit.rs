//! Exit codes, so scripts can tell a refused operation from a daemon that is down.

use roster::client::ClientError;

/// Success.
pub const OK: u8 = 0;
/// The operation was refused: the group does not exist, the member already joined, ...
pub const REFUSED: u8 = 1;
/// Bad usage or invalid input (clap uses 2 for usage errors too).
pub const USAGE: u8 = 2;
/// The daemon cannot be reached (`join`: for a whole session TTL, see `keepalive`).
pub const UNREACHABLE: u8 = 3;
/// Anything else: an unexpected answer, a failure of this program.
pub const FAILURE: u8 = 4;
/// `plugin check`: the component is not a valid plugin of that world.
pub const INVALID_COMPONENT: u8 = 5;
/// `plugin build`: a tool the project's language needs is not installed (the message says
/// how to install it).
pub const TOOLCHAIN_MISSING: u8 = 6;
/// `lock`: interrupted (SIGINT or SIGTERM) while waiting or running the command, as a shell
/// reports a command ended by SIGINT.
pub const INTERRUPTED: u8 = 130;

/// The exit codes, for `--help`.
pub const HELP: &str = "Exit codes: 0 success, 1 operation refused (e.g. group-not-created), \
                        2 bad usage or input, 3 daemon unreachable (for `join`: for a whole \
                        session TTL, so its membership is gone), 4 unexpected failure, \
                        5 invalid plugin component, 6 a toolchain `plugin build` needs is missing. `lock` exits with its command's code, \
                        1 when the lock was not acquired in time, 130 when interrupted.";

/// The exit code for a failed call.
pub fn of(error: &ClientError) -> u8 {
    match error {
        ClientError::Coordination(roster::CoordinationError::InvalidId { .. })
        | ClientError::InvalidAddress(_)
        | ClientError::Credentials(_) => USAGE,
        ClientError::Coordination(_) => REFUSED,
        ClientError::Refused { code, .. } if code == "invalid-component" => INVALID_COMPONENT,
        ClientError::Refused { status, .. } if *status == 400 => USAGE,
        ClientError::Refused { .. } => REFUSED,
        ClientError::Unreachable { .. } => UNREACHABLE,
        ClientError::Protocol(_) => FAILURE,
    }
}
