use clap::Parser;

fn main() {
    #[cfg(windows)]
    if std::env::args_os().len() == 1 {
        release_own_console();
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = siths_upgrade::cli::Cli::parse();
    if let Err(e) = siths_upgrade::cli::run(cli) {
        eprintln!("siths-upgrade: {e}");
        std::process::exit(e.code as i32);
    }
}

/// Windows gives a console program started from the Start menu or Explorer a console window of
/// its own. Started without arguments the program opens its window, so it lets go of that
/// console, which then closes; a console shared with a command prompt that started the program
/// stays, and so does every command's output there.
#[cfg(windows)]
fn release_own_console() {
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn GetConsoleProcessList(list: *mut u32, count: u32) -> u32;
        fn FreeConsole() -> i32;
    }
    let mut processes = [0u32; 2];
    // SAFETY: the buffer has room for the two entries the call is told about.
    let attached = unsafe { GetConsoleProcessList(processes.as_mut_ptr(), 2) };
    if attached == 1 {
        // SAFETY: nothing has written to the console yet; later writes to it are discarded.
        unsafe { FreeConsole() };
    }
}
