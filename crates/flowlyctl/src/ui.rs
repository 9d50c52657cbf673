//! What the admin sees: steps, check marks, spinners and tables.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub fn step(text: &str) {
    eprintln!("==> {text}");
}

pub fn done(text: &str) {
    eprintln!("    ✓ {text}");
}

pub fn failed(text: &str) {
    eprintln!("    ✗ {text}");
}

pub fn spinner(text: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("    {spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(text.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub fn counter(len: u64, text: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("    [{bar:20}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(text.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub fn table(header: &[&str]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header.to_vec());
    table
}
