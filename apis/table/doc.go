// Package table has the helpers the per-group printers share to build the
// columns and cells that `kubectl get` shows, formatted as upstream's
// printers format them (ages, lists, "<none>").
package table
