package etcd

import "github.com/skiffhq/skiff/server/pageout"

// ReleaseBackendPages asks the kernel to reclaim the pages of the
// backend's memory map. etcd maps its bbolt file with MAP_POPULATE so that
// a restart reads the whole file in at once; after start-up those pages
// are counted in the process's RSS although most are never touched again.
func (s *Server) ReleaseBackendPages() (int64, error) {
	return pageout.File(s.BackendPath())
}
