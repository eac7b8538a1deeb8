//! Development aid: parses one .elig file and prints syntax errors and the AST.
fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut map = eligc::source::SourceMap::new();
    let id = map.add(path.clone(), None, text);
    if let Some(src) = map.get(id) {
        let parsed = eligc::syntax::parse(src);
        println!("{:#?}", parsed.errors);
        println!("{} items", parsed.module.items.len());
        for i in &parsed.module.items {
            println!("{i:?}\n");
        }
    }
}
