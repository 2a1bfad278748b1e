// Command images packs local files into a single-layer container image and
// writes it as a docker-archive tarball that "ctr images import" reads. The
// real nodes of hack/cluster.sh up --real-nodes have no registry to pull
// from: their pause, busybox and Tekton images are built with it.
//
// Usage:
//
//	images -name REF -out FILE [-file SRC:DST:MODE]... [-symlink LINK:TARGET]...
//	       [-dir PATH:MODE]... [-entrypoint ARG]... [-cmd ARG]... [-user USER]
//	       [-env NAME=VALUE]... [-workdir DIR]
//
// Every entry of the layer has a zero modification time and root ownership,
// so the same inputs give the same image digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

type entry struct {
	hdr  *tar.Header
	data []byte
}

func main() {
	var (
		ref, out, user, workdir              string
		files, links, dirs, entry, cmd, envs list
	)
	flag.StringVar(&ref, "name", "", "image reference (REPOSITORY:TAG)")
	flag.StringVar(&out, "out", "", "docker-archive tarball to write")
	flag.StringVar(&user, "user", "", "user the image runs as")
	flag.StringVar(&workdir, "workdir", "", "working directory")
	flag.Var(&files, "file", "SRC:DST:MODE (octal), repeatable")
	flag.Var(&links, "symlink", "LINK:TARGET, repeatable")
	flag.Var(&dirs, "dir", "PATH:MODE (octal), repeatable")
	flag.Var(&entry, "entrypoint", "entrypoint argument, repeatable")
	flag.Var(&cmd, "cmd", "cmd argument, repeatable")
	flag.Var(&envs, "env", "NAME=VALUE, repeatable")
	flag.Parse()
	if ref == "" || out == "" {
		log.Fatal("-name and -out are required")
	}
	if err := build(ref, out, user, workdir, files, links, dirs, entry, cmd, envs); err != nil {
		log.Fatalf("building %s: %v", ref, err)
	}
}

func build(ref, out, user, workdir string, files, links, dirs, entrypoint, cmd, envs []string) error {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("parsing the reference: %w", err)
	}
	entries := map[string]entry{}
	addDir := func(p string, mode int64) {
		p = strings.Trim(path.Clean(p), "/")
		for d := p; d != "." && d != ""; d = path.Dir(d) {
			if _, ok := entries[d+"/"]; ok {
				continue
			}
			m := int64(0o755)
			if d == p {
				m = mode
			}
			entries[d+"/"] = entry{hdr: &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: m}}
		}
	}
	for _, d := range dirs {
		p, m, err := splitMode(d)
		if err != nil {
			return err
		}
		addDir(p, m)
	}
	for _, f := range files {
		parts := strings.SplitN(f, ":", 3)
		if len(parts) != 3 {
			return fmt.Errorf("-file %q: want SRC:DST:MODE", f)
		}
		mode, err := strconv.ParseInt(parts[2], 8, 64)
		if err != nil {
			return fmt.Errorf("-file %q: mode: %w", f, err)
		}
		data, err := os.ReadFile(parts[0])
		if err != nil {
			return fmt.Errorf("reading %s: %w", parts[0], err)
		}
		dst := strings.Trim(path.Clean(parts[1]), "/")
		addDir(path.Dir(dst), 0o755)
		entries[dst] = entry{hdr: &tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: mode, Size: int64(len(data))}, data: data}
	}
	for _, l := range links {
		parts := strings.SplitN(l, ":", 2)
		if len(parts) != 2 {
			return fmt.Errorf("-symlink %q: want LINK:TARGET", l)
		}
		dst := strings.Trim(path.Clean(parts[0]), "/")
		addDir(path.Dir(dst), 0o755)
		if _, ok := entries[dst]; ok {
			continue // a file of the same name wins
		}
		entries[dst] = entry{hdr: &tar.Header{Typeflag: tar.TypeSymlink, Name: dst, Linkname: parts[1], Mode: 0o777}}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names) // parents sort before their children
	for _, n := range names {
		e := entries[n]
		e.hdr.ModTime = time.Unix(0, 0)
		e.hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(e.hdr); err != nil {
			return fmt.Errorf("writing %s: %w", n, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("writing %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing the layer: %w", err)
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	})
	if err != nil {
		return fmt.Errorf("making the layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("appending the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	cf.Config.Entrypoint = entrypoint
	cf.Config.Cmd = cmd
	cf.Config.User = user
	cf.Config.WorkingDir = workdir
	cf.Config.Env = envs
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return fmt.Errorf("setting the config: %w", err)
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

func splitMode(s string) (string, int64, error) {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", 0, fmt.Errorf("%q: want PATH:MODE", s)
	}
	m, err := strconv.ParseInt(s[i+1:], 8, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%q: mode: %w", s, err)
	}
	return s[:i], m, nil
}
