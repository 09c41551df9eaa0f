// Package saql owns the syntax of the Azure Stream Analytics query language (SAQL) as Tandem
// accepts it: the tokens and the hand-written lexer (token.go, lexer.go), the abstract syntax
// tree with 1-based line:column positions (ast.go), the recursive-descent parser (parser.go,
// parse_from.go, parse_expr.go), user-facing syntax errors that say where, what was expected,
// what was found and a hint (errors.go), and the canonical printer (format.go) whose output
// parses back to the same tree. The grammar it accepts is documented in docs/SAQL.md.
//
// It knows syntax only. It must not evaluate anything, resolve names against inputs or
// outputs, check function arity or types (the planner does), read a clock or do I/O. Errors a
// user can see are *Error values, which carry errcode.InvalidArgument.
package saql
