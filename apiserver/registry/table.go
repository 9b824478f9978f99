package registry

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
)

// tableConvertor renders objects of a resource as the rows kubectl get prints.
type tableConvertor struct {
	res      *Resource
	fallback rest.TableConvertor
}

func newTableConvertor(res *Resource) rest.TableConvertor {
	fallback := rest.NewDefaultTableConvertor(res.GroupResource())
	if res.Row == nil {
		return fallback
	}
	return &tableConvertor{res: res, fallback: fallback}
}

func (c *tableConvertor) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: c.res.Columns}
	if opt, ok := tableOptions.(*metav1.TableOptions); ok && opt != nil && opt.NoHeaders {
		table.ColumnDefinitions = nil
	}
	addRow := func(obj runtime.Object) error {
		cells, err := c.res.Row(obj)
		if err != nil {
			return err
		}
		if len(cells) != len(c.res.Columns) {
			return apierrors.NewInternalError(fmt.Errorf("%s table row has %d cells for %d columns", c.res.Name, len(cells), len(c.res.Columns)))
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: obj}})
		return nil
	}
	if meta.IsListType(object) {
		if err := meta.EachListItem(object, addRow); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(object); err == nil {
			table.ResourceVersion = l.GetResourceVersion()
			table.Continue = l.GetContinue()
			table.RemainingItemCount = l.GetRemainingItemCount()
		}
	} else {
		if err := addRow(object); err != nil {
			return nil, err
		}
		if m, err := meta.Accessor(object); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	return table, nil
}
