// Starts `graphc lsp` (pip install 'graphc[lsp]') for .graph files: diagnostics, quick fixes,
// formatting, symbols, definitions, references, rename, hover, completion, code lenses, call hierarchy.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("graphc").get("path", "graphc");
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "graphc",
    "graphc language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "graphc" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
