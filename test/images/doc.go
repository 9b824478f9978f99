// Package images builds skiff's local test image: an OCI image layout
// tarball holding the static busybox of Debian's busybox-static package
// with a link for each of its applets. No registry is reachable on the
// machines skiff is tested on, so tests and users import this image into
// containerd (`skiff images import`). The build is reproducible: the same
// busybox binary gives the same bytes, hence the same digests.
package images
