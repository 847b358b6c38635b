//! End-to-end tests of the `ebm` binary live in `tests/tests/`; this library is empty.
