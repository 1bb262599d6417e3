//! The smallest guest that proves the pipeline: built by cargo for
//! `wasm32-wasip2` with plain wit-bindgen, no wasync runtime.

wit_bindgen::generate!({ world: "hello", path: "../../wit" });

use wasip2::clocks::monotonic_clock;

struct Hello;

impl Guest for Hello {
    fn greet(name: String) -> String {
        format!("hello, {name}")
    }

    fn nap(ms: u32) -> u64 {
        let start = monotonic_clock::now();
        let wake = monotonic_clock::subscribe_duration(u64::from(ms) * 1_000_000);
        wasip2::io::poll::poll(&[&wake]);
        monotonic_clock::now() - start
    }

    fn boom(message: String) {
        panic!("{message}");
    }

    fn env_vars() -> Vec<(String, String)> {
        wasip2::cli::environment::get_environment()
    }

    fn preopens() -> Vec<String> {
        wasip2::filesystem::preopens::get_directories()
            .into_iter()
            .map(|(_, path)| path)
            .collect()
    }

    fn connect(port: u16) -> Result<(), String> {
        use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
        use wasip2::sockets::{instance_network, tcp_create_socket};

        let network = instance_network::instance_network();
        let socket = tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
            .map_err(|e| format!("create-tcp-socket: {e:?}"))?;
        let addr = IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port,
            address: (127, 0, 0, 1),
        });
        socket
            .start_connect(&network, addr)
            .map_err(|e| format!("start-connect: {e:?}"))?;
        let ready = socket.subscribe();
        loop {
            match socket.finish_connect() {
                Ok(_streams) => return Ok(()),
                Err(wasip2::sockets::network::ErrorCode::WouldBlock) => {
                    ready.block();
                }
                Err(e) => return Err(format!("finish-connect: {e:?}")),
            }
        }
    }

    fn say(text: String) {
        println!("{text}");
        eprintln!("{text}");
    }
}

export!(Hello);
