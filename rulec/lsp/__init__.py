"""The language server for .rules and the YAML form (`rulec lsp`), and what it is built from."""
