//! The `switchyard` binary; all of it lives in the library so tests and tools can reuse it.

fn main() -> anyhow::Result<()> {
    switchyard::main()
}
