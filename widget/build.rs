//! Minifies the widget's stylesheet (comments and layout whitespace out) before it is compiled
//! into the bundle: every byte of the cancel bundle counts.

use std::{env, fs, path::Path};

fn minify(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    // Comments out.
    let mut plain = String::with_capacity(css.len());
    while let Some((before, after)) = rest.split_once("/*") {
        plain.push_str(before);
        rest = after.split_once("*/").map_or("", |(_, tail)| tail);
    }
    plain.push_str(rest);
    // Whitespace runs become one space, and go entirely next to punctuation that needs none.
    // A space before `:` stays (`.a :focus` is not `.a:focus`); one after it goes.
    let mut pending_space = false;
    for c in plain.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        let last = out.chars().last();
        if pending_space
            && !matches!(c, '{' | '}' | ';' | ',')
            && !matches!(last, None | Some('{' | '}' | ';' | ',' | ':'))
        {
            out.push(' ');
        }
        pending_space = false;
        if c == '}' && out.ends_with(';') {
            out.pop();
        }
        out.push(c);
    }
    out
}

fn main() {
    // Read at run time: a compiled build script may be reused from a checkout elsewhere.
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let source = Path::new(&manifest_dir).join("../style/widget.css");
    println!("cargo::rerun-if-changed={}", source.display());
    let css = fs::read_to_string(&source).expect("style/widget.css is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("widget.min.css");
    fs::write(out, minify(&css)).expect("OUT_DIR is writable");
}
