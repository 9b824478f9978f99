package integration

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/testserver"
)

// gadgetConverter converts Gadgets between v1 (spec.size) and v2
// (spec.dimensions.size), answering ConversionReviews as a CRD conversion
// webhook does.
func gadgetConverter(w http.ResponseWriter, r *http.Request) {
	var review apiextensionsv1.ConversionReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "bad review", http.StatusBadRequest)
		return
	}
	resp := &apiextensionsv1.ConversionResponse{UID: review.Request.UID, Result: metav1.Status{Status: metav1.StatusSuccess}}
	for _, raw := range review.Request.Objects {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw.Raw); err != nil {
			resp.Result = metav1.Status{Status: metav1.StatusFailure, Message: err.Error()}
			break
		}
		from := obj.GetAPIVersion()
		obj.SetAPIVersion(review.Request.DesiredAPIVersion)
		switch {
		case from == "example.skiff.test/v1" && review.Request.DesiredAPIVersion == "example.skiff.test/v2":
			size, found, _ := unstructured.NestedInt64(obj.Object, "spec", "size")
			unstructured.RemoveNestedField(obj.Object, "spec", "size")
			if found {
				_ = unstructured.SetNestedField(obj.Object, size, "spec", "dimensions", "size")
			}
		case from == "example.skiff.test/v2" && review.Request.DesiredAPIVersion == "example.skiff.test/v1":
			size, found, _ := unstructured.NestedInt64(obj.Object, "spec", "dimensions", "size")
			unstructured.RemoveNestedField(obj.Object, "spec", "dimensions")
			if found {
				_ = unstructured.SetNestedField(obj.Object, size, "spec", "size")
			}
		}
		out, _ := obj.MarshalJSON()
		resp.ConvertedObjects = append(resp.ConvertedObjects, runtime.RawExtension{Raw: out})
	}
	review.Response, review.Request = resp, nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

// TestCRDConversionWebhook checks that a CRD with spec.conversion.strategy
// Webhook has its objects converted by the webhook between the served
// versions, in writes and reads.
func TestCRDConversionWebhook(t *testing.T) {
	srv := testserver.Start(t)
	cfg := srv.RESTConfig(t)
	ctx := context.Background()
	n := ns(t, srv.Client(t))
	hook := httptest.NewTLSServer(http.HandlerFunc(gadgetConverter))
	t.Cleanup(hook.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})

	schemaOf := func(props map[string]apiextensionsv1.JSONSchemaProps) *apiextensionsv1.CustomResourceValidation {
		return &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"spec": {Type: "object", Properties: props},
		}}}
	}
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "gadgets.example.skiff.test"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.skiff.test", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "gadgets", Singular: "gadget", Kind: "Gadget", ListKind: "GadgetList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1", Served: true, Storage: true, Schema: schemaOf(map[string]apiextensionsv1.JSONSchemaProps{"size": {Type: "integer"}})},
				{Name: "v2", Served: true, Schema: schemaOf(map[string]apiextensionsv1.JSONSchemaProps{
					"dimensions": {Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"size": {Type: "integer"}}},
				})},
			},
			Conversion: &apiextensionsv1.CustomResourceConversion{
				Strategy: apiextensionsv1.WebhookConverter,
				Webhook: &apiextensionsv1.WebhookConversion{
					ClientConfig:             &apiextensionsv1.WebhookClientConfig{URL: ptr.To(hook.URL + "/convert"), CABundle: ca},
					ConversionReviewVersions: []string{"v1"},
				},
			},
		},
	}
	if _, err := apiextensionsclient.NewForConfigOrDie(cfg).ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = apiextensionsclient.NewForConfigOrDie(cfg).ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), crd.Name, metav1.DeleteOptions{})
	})
	dyn := dynamic.NewForConfigOrDie(cfg)
	v1 := dyn.Resource(schema.GroupVersionResource{Group: "example.skiff.test", Version: "v1", Resource: "gadgets"}).Namespace(n)
	v2 := dyn.Resource(schema.GroupVersionResource{Group: "example.skiff.test", Version: "v2", Resource: "gadgets"}).Namespace(n)

	// Written as v2, stored as v1 (through the webhook), read as either.
	g := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.skiff.test/v2", "kind": "Gadget",
		"metadata": map[string]any{"name": "g"},
		"spec":     map[string]any{"dimensions": map[string]any{"size": int64(3)}},
	}}
	waitFor(t, 30*time.Second, "the CRD to serve v2", func() (bool, error) {
		_, err := v2.Create(ctx, g, metav1.CreateOptions{})
		return err == nil, nil
	})
	got1, err := v1.Get(ctx, "g", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(got1.Object, "spec", "size"); size != 3 || got1.GetAPIVersion() != "example.skiff.test/v1" {
		t.Errorf("read as v1: %v", got1.Object)
	}
	got2, err := v2.Get(ctx, "g", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(got2.Object, "spec", "dimensions", "size"); size != 3 {
		t.Errorf("read as v2: %v", got2.Object)
	}
	// A list in v2 converts each item.
	list, err := v2.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list as v2: %v %v", list, err)
	}
	if _, found, _ := unstructured.NestedInt64(list.Items[0].Object, "spec", "dimensions", "size"); !found {
		t.Errorf("listed as v2: %v", list.Items[0].Object)
	}
}
