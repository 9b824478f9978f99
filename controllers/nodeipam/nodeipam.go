package nodeipam

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Allocator hands out the node-sized subnets of a cluster CIDR.
type Allocator struct {
	cidr     *net.IPNet
	maskSize int
	count    int

	mu     sync.Mutex
	byNode map[string]int // node → subnet index
	used   map[int]string
}

// NewAllocator splits cidr into subnets of prefix length maskSize.
func NewAllocator(cidr *net.IPNet, maskSize int) (*Allocator, error) {
	ones, bits := cidr.Mask.Size()
	if maskSize < ones || maskSize > bits || maskSize-ones > 24 {
		return nil, fmt.Errorf("node CIDR mask size %d does not fit cluster CIDR %s", maskSize, cidr)
	}
	return &Allocator{cidr: cidr, maskSize: maskSize, count: 1 << (maskSize - ones), byNode: map[string]int{}, used: map[int]string{}}, nil
}

func (a *Allocator) subnet(i int) string {
	_, bits := a.cidr.Mask.Size()
	base := new(big.Int).SetBytes(a.cidr.IP.To16())
	off := new(big.Int).Lsh(big.NewInt(int64(i)), uint(bits-a.maskSize))
	ip := net.IP(new(big.Int).Add(base, off).FillBytes(make([]byte, 16)))
	if a.cidr.IP.To4() != nil {
		ip = ip.To4()
	}
	return (&net.IPNet{IP: ip, Mask: net.CIDRMask(a.maskSize, bits)}).String()
}

func (a *Allocator) index(cidr string) (int, bool) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil || !a.cidr.Contains(n.IP) {
		return 0, false
	}
	ones, bits := n.Mask.Size()
	if ones != a.maskSize {
		return 0, false
	}
	off := new(big.Int).Sub(new(big.Int).SetBytes(n.IP.To16()), new(big.Int).SetBytes(a.cidr.IP.To16()))
	return int(off.Rsh(off, uint(bits-a.maskSize)).Int64()), true
}

// Occupy records a subnet a node already has.
func (a *Allocator) Occupy(node, cidr string) {
	i, ok := a.index(cidr)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.byNode[node], a.used[i] = i, node
}

// Allocate returns the node's subnet, taking the first free one if it
// has none yet.
func (a *Allocator) Allocate(node string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, ok := a.byNode[node]; ok {
		return a.subnet(i), nil
	}
	for i := range a.count {
		if _, taken := a.used[i]; !taken {
			a.byNode[node], a.used[i] = i, node
			return a.subnet(i), nil
		}
	}
	return "", fmt.Errorf("cluster CIDR %s has no free /%d for node %q", a.cidr, a.maskSize, node)
}

// Release frees a deleted node's subnet.
func (a *Allocator) Release(node string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i, ok := a.byNode[node]; ok {
		delete(a.byNode, node)
		delete(a.used, i)
	}
}

type reconciler struct {
	client client.Client
	alloc  *Allocator
	once   sync.Once
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, cidr *net.IPNet, maskSize int) error {
	alloc, err := NewAllocator(cidr, maskSize)
	if err != nil {
		return err
	}
	r := &reconciler{client: mgr.GetClient(), alloc: alloc}
	return ctrl.NewControllerManagedBy(mgr).Named("nodeipam").For(&corev1.Node{}).Complete(r)
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var err error
	// Learn the subnets nodes already hold before handing out any.
	r.once.Do(func() {
		var nodes corev1.NodeList
		if err = r.client.List(ctx, &nodes); err != nil {
			return
		}
		for _, n := range nodes.Items {
			if n.Spec.PodCIDR != "" {
				r.alloc.Occupy(n.Name, n.Spec.PodCIDR)
			}
		}
	})
	if err != nil {
		r.once = sync.Once{}
		return ctrl.Result{}, err
	}
	node := &corev1.Node{}
	if err := r.client.Get(ctx, req.NamespacedName, node); apierrors.IsNotFound(err) {
		r.alloc.Release(req.Name)
		return ctrl.Result{}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}
	if node.Spec.PodCIDR != "" {
		r.alloc.Occupy(node.Name, node.Spec.PodCIDR)
		return ctrl.Result{}, nil
	}
	cidr, err := r.alloc.Allocate(node.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr, "podCIDRs": []string{cidr}}})
	if err := r.client.Patch(ctx, node, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil {
		return ctrl.Result{}, fmt.Errorf("setting podCIDR %s: %w", cidr, err)
	}
	ctrl.LoggerFrom(ctx).V(2).Info("assigned podCIDR", "node", node.Name, "podCIDR", cidr)
	return ctrl.Result{}, nil
}
