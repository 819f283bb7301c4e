fn main() {
    eprintln!("paypal-auth-verify: not built yet");
    std::process::exit(2);
}
