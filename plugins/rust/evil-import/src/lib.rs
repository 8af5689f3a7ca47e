//! A test fixture: a component that imports an interface no Roster plugin is given. Loading
//! it as a handler must fail, naming the import.

wit_bindgen::generate!({
    inline: "
        package fixture:evil;
        interface backdoor {
            open: func() -> u32;
        }
        world evil {
            import backdoor;
            export run: func() -> u32;
        }
    ",
});

struct Evil;

impl Guest for Evil {
    fn run() -> u32 {
        fixture::evil::backdoor::open()
    }
}

export!(Evil);
