package e2e

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestE2E runs the e2e specs: real skiff servers and agents with
// containerd, driven with kubectl (root; hack/install-deps.sh).
func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "skiff e2e on containerd")
}
