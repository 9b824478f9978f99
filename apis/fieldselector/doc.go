// Package fieldselector registers which field selector keys a kind
// accepts, so that a request with an unknown key is refused with upstream's
// "field label not supported" error instead of matching nothing.
package fieldselector
