//! Compiles the station UI (`ui/station/main.slint`). Debug info keeps the element ids
//! that the testing backend's element search needs.

fn main() {
    let config = slint_build::CompilerConfiguration::new().with_debug_info(true);
    if let Err(e) = slint_build::compile_with_config("../../ui/station/main.slint", config) {
        // A build script reports by failing; the compiler's diagnostics are already printed.
        println!("cargo::error=slint compilation failed: {e}");
        std::process::exit(1);
    }
}
