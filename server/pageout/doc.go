// Package pageout returns to the operating system the file-backed pages
// that start-up left resident (etcd's bbolt map, the binary's own start-up
// code), so that an idle server's resident set is what it really uses.
package pageout
