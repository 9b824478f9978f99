// Command webhook is an admission webhook server for skiff's e2e tests,
// run in a pod: the tests build it statically, add it to the test image
// (images.BuildWith) and serve it behind a Service, as an operator's
// webhook is deployed in a cluster.
//
// It serves AdmissionReview v1 over HTTPS:
//
//	/mutate    labels every object it is sent webhook.skiff.test/mutated=true
//	/validate  denies objects whose data has the key "forbidden"
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MutatedLabel is the label /mutate adds.
const MutatedLabel = "webhook.skiff.test/mutated"

func main() {
	addr := flag.String("addr", ":8443", "address to serve HTTPS on")
	cert := flag.String("tls-cert-file", "/tls/tls.crt", "serving certificate")
	key := flag.String("tls-private-key-file", "/tls/tls.key", "serving certificate's key")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("/mutate", review(mutate))
	mux.HandleFunc("/validate", review(validate))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("serving admission webhooks on %s", *addr)
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}

// object is the part of a request's object the webhooks look at.
type object struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

// review decodes an AdmissionReview, lets decide answer it and writes the
// response with the request's uid.
func review(decide func(*admissionv1.AdmissionRequest, *object) *admissionv1.AdmissionResponse) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &in); err != nil || in.Request == nil {
			http.Error(w, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		var obj object
		if len(in.Request.Object.Raw) > 0 {
			if err := json.Unmarshal(in.Request.Object.Raw, &obj); err != nil {
				http.Error(w, fmt.Sprintf("decoding the object: %v", err), http.StatusBadRequest)
				return
			}
		}
		resp := decide(in.Request, &obj)
		resp.UID = in.Request.UID
		log.Printf("%s %s %s/%s: allowed=%t", r.URL.Path, in.Request.Operation, in.Request.Namespace, in.Request.Name, resp.Allowed)
		out := admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: resp}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(out); err != nil {
			log.Printf("writing the response: %v", err)
		}
	}
}

func mutate(_ *admissionv1.AdmissionRequest, obj *object) *admissionv1.AdmissionResponse {
	var patch []map[string]any
	if obj.Metadata.Labels == nil {
		patch = append(patch, map[string]any{"op": "add", "path": "/metadata/labels", "value": map[string]string{}})
	}
	// JSON pointer: "/" in a key is written "~1".
	patch = append(patch, map[string]any{"op": "add", "path": "/metadata/labels/webhook.skiff.test~1mutated", "value": "true"})
	data, err := json.Marshal(patch)
	if err != nil {
		return &admissionv1.AdmissionResponse{Result: &metav1.Status{Message: err.Error()}}
	}
	pt := admissionv1.PatchTypeJSONPatch
	return &admissionv1.AdmissionResponse{Allowed: true, Patch: data, PatchType: &pt}
}

func validate(_ *admissionv1.AdmissionRequest, obj *object) *admissionv1.AdmissionResponse {
	if _, ok := obj.Data["forbidden"]; ok {
		return &admissionv1.AdmissionResponse{Result: &metav1.Status{Code: http.StatusForbidden, Message: "the key forbidden is not allowed"}}
	}
	return &admissionv1.AdmissionResponse{Allowed: true}
}
