package main

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layerEntry is what the test reads back of one entry of the image's layer.
type layerEntry struct {
	Name     string
	Type     byte
	Mode     int64
	Linkname string
	Data     string
	UID, GID int
	ModTime  int64
}

func TestBuild(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "busybox")
	if err := os.WriteFile(bin, []byte("not really busybox"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "busybox.tar")
	if err := build("pra.local/busybox:test", out, "65532", "/workspace",
		[]string{bin + ":/bin/busybox:755"},
		[]string{"bin/sh:busybox", "/bin/busybox:elsewhere"},
		[]string{"/tmp:1777", "workspace/data:700"},
		[]string{"/bin/sh", "-c"}, []string{"echo hi"}, []string{"HOME=/workspace"},
	); err != nil {
		t.Fatalf("build() = %v", err)
	}

	tag, err := name.NewTag("pra.local/busybox:test")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("reading the image back: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	gotConfig := []string{cf.OS, cf.Architecture, cf.Config.User, cf.Config.WorkingDir, strings.Join(cf.Config.Entrypoint, " "), strings.Join(cf.Config.Cmd, " "), strings.Join(cf.Config.Env, " ")}
	wantConfig := []string{"linux", "amd64", "65532", "/workspace", "/bin/sh -c", "echo hi", "HOME=/workspace"}
	if d := cmp.Diff(wantConfig, gotConfig); d != "" {
		t.Errorf("config (os, arch, user, workdir, entrypoint, cmd, env) (-want +got):\n%s", d)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []layerEntry
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the layer: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, layerEntry{Name: hdr.Name, Type: hdr.Typeflag, Mode: hdr.Mode, Linkname: hdr.Linkname, Data: string(data), UID: hdr.Uid, GID: hdr.Gid, ModTime: hdr.ModTime.Unix()})
	}
	// Parents before children, sorted; the file wins over a symlink of the
	// same name; directories a file or link needs are made 0755; every
	// entry is root's, dated the epoch.
	want := []layerEntry{
		{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Type: tar.TypeReg, Mode: 0o755, Data: "not really busybox"},
		{Name: "bin/sh", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "busybox"},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "workspace/", Type: tar.TypeDir, Mode: 0o755},
		{Name: "workspace/data/", Type: tar.TypeDir, Mode: 0o700},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("layer entries (-want +got):\n%s", d)
	}

	// The same inputs give the same image.
	again := filepath.Join(dir, "again.tar")
	if err := build("pra.local/busybox:test", again, "65532", "/workspace",
		[]string{bin + ":/bin/busybox:755"},
		[]string{"bin/sh:busybox", "/bin/busybox:elsewhere"},
		[]string{"/tmp:1777", "workspace/data:700"},
		[]string{"/bin/sh", "-c"}, []string{"echo hi"}, []string{"HOME=/workspace"},
	); err != nil {
		t.Fatalf("build() again = %v", err)
	}
	img2, err := tarball.ImageFromPath(again, &tag)
	if err != nil {
		t.Fatal(err)
	}
	d1, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := img2.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if d1 != d2 {
		t.Errorf("two builds of the same inputs: digests %s and %s, want equal", d1, d2)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.tar")
	for _, tc := range []struct {
		name  string
		ref   string
		files []string
		links []string
		dirs  []string
		want  string
	}{
		{name: "reference without a tag", ref: "pra.local/busybox", want: "parsing the reference"},
		{name: "file without a mode", ref: "pra.local/x:1", files: []string{"a:b"}, want: "want SRC:DST:MODE"},
		{name: "file mode not octal", ref: "pra.local/x:1", files: []string{"a:b:9z"}, want: "mode"},
		{name: "missing source file", ref: "pra.local/x:1", files: []string{filepath.Join(dir, "nope") + ":/x:755"}, want: "reading"},
		{name: "symlink without a target", ref: "pra.local/x:1", links: []string{"bin/sh"}, want: "want LINK:TARGET"},
		{name: "directory without a mode", ref: "pra.local/x:1", dirs: []string{"tmp"}, want: "want PATH:MODE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := build(tc.ref, out, "", "", tc.files, tc.links, tc.dirs, nil, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
