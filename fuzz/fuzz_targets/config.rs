//! The config loader on arbitrary TOML text: parse (unknown keys, wrong types), validate, and
//! for a valid config the TOML round trip. Any input must give `Ok` or a typed `ConfigError`,
//! never a panic.
#![no_main]

use ebm_config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = Config::from_toml_str(text, "fuzz.toml") else { return };
    let shown = config.to_toml_string();
    let back = Config::from_toml_str(&shown, "round-trip").expect("printed TOML parses");
    // NaN != NaN: compare the printed forms.
    assert_eq!(back.to_toml_string(), shown);
    if let Ok(valid) = config.validate() {
        // Overrides on a valid config are errors or configs, never panics.
        let _ = valid.config().with_overrides(&["training.epochs=2".to_owned()]);
    }
});
