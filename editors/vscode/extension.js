// The VS Code client: starts `rulec lsp` over stdio for .rules files (and the YAML rules files
// named by the rulec.yamlFiles setting) and stops it with the editor.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("rulec");
  const [command, ...args] = config.get("command", ["rulec", "lsp"]);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "rulec",
    "rulec rules",
    { run: server, debug: server },
    {
      documentSelector: [
        { scheme: "file", language: "rules" },
        { scheme: "file", language: "yaml", pattern: config.get("yamlFiles") },
      ],
    }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
