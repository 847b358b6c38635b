//! `ebm`: the command line of the ebm workspace (the library's [`ebm_cli::main`]).

fn main() -> std::process::ExitCode {
    ebm_cli::main()
}
