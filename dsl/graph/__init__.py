"""The `.graph` syntax, read in one of two ways.

`syntax` turns text into a GraphSpec; `lalr` parses with lark's tables and never imports
lark; `lark_parser` is lark itself (syntax errors, completion, and the tables it builds),
the only module that reads lark's internals.
"""
