package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed assets
var assetFiles embed.FS

// asset is an embedded file served under a name with its content hash
// (gatehouse.3f2a9c1b0d.css), so it may be cached for good: a new
// version has a new name.
type asset struct {
	body        []byte
	contentType string
}

// assets are the embedded files by hashed name; hashedNames maps each
// file's own name to its hashed one.
var assets, hashedNames = loadAssets()

func loadAssets() (map[string]asset, map[string]string) {
	byHash, names := map[string]asset{}, map[string]string{}
	entries, err := fs.ReadDir(assetFiles, "assets")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		body, err := fs.ReadFile(assetFiles, "assets/"+e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(e.Name())
		hashed := strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:5]) + ext
		byHash[hashed] = asset{body: body, contentType: mime.TypeByExtension(ext)}
		names[e.Name()] = hashed
	}
	return byHash, names
}

// assetURL is the path of the embedded file name under the base path.
func assetURL(base, name string) (string, error) {
	hashed, ok := hashedNames[name]
	if !ok {
		return "", fmt.Errorf("no asset %q", name)
	}
	return base + "/ui/assets/" + hashed, nil
}

// handleAsset is GET BASE/ui/assets/{file}: an embedded file by its
// hashed name, cached for a year.
func (p *Pages) handleAsset(w http.ResponseWriter, r *http.Request) error {
	a, ok := assets[r.PathValue("file")]
	if !ok {
		return errNotFound
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
	return nil
}
