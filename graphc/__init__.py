"""graphc, the application: the `graphc` command, its language server and its workers' command line.

The only package that parses arguments, prints or picks exit codes; `dsl`, `compiler` and
`runtime` are libraries it drives.
"""
