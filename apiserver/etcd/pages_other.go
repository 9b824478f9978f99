//go:build !linux

package etcd

// ReleaseBackendPages is a no-op where the kernel offers no MADV_PAGEOUT.
func (s *Server) ReleaseBackendPages() (int64, error) { return 0, nil }
