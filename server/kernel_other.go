//go:build !linux

package server

func kernelVersion() string { return "" }
