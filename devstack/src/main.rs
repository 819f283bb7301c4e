fn main() {
    eprintln!("devstack: the PayPal stand-in and demo are being written");
    std::process::exit(2);
}
