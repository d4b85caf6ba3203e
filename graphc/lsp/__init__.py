"""`graphc lsp`: the language server, a thin adapter over the pipeline (pygls; `pip install 'graphc[lsp]'`)."""
