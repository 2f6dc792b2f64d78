package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/library"
	"github.com/hlsd/hlsd/internal/postgres"
	"github.com/hlsd/hlsd/internal/testmedia"
)

// childEnv makes the test binary a worker process of TestRescueDeadWorker:
// its value is "URL DATA SOURCE".
const childEnv = "HLSD_POSTGRES_TEST_WORKER"

// stuckTranscoder never finishes: the worker holding its job is killed.
type stuckTranscoder struct{}

func (stuckTranscoder) Transcode(ctx context.Context, _ library.TranscodeJob) (*library.TranscodeResult, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// runWorker is the child: a library on the shared Postgres that uploads
// source, prints "processing ID" once its worker holds the job, and then
// waits to be killed.
func runWorker(arg string) int {
	f := strings.Fields(arg)
	ctx := context.Background()
	db, err := postgres.Open(ctx, f[0])
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	lib, err := library.New(ctx, library.Config{DataDir: f[1], DB: db, Transcoder: stuckTranscoder{}})
	if err == nil {
		err = lib.Start(ctx)
	}
	var m *hlsd.Media
	if err == nil {
		m, err = lib.Import(ctx, f[2], library.Upload{})
	}
	for err == nil {
		var got *hlsd.Media
		if got, err = lib.Get(ctx, m.ID); err == nil && got.Status == hlsd.StatusProcessing {
			fmt.Println("processing", m.ID)
			select {}
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Println("error", err)
	return 1
}

func openLibrary(t *testing.T, url, data string, cfg library.Config) *library.Library {
	t.Helper()
	db := open(t, url)
	cfg.DataDir, cfg.DB = data, db
	lib, err := library.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("library.New: %v", err)
	}
	if err := lib.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := lib.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return lib
}

// waitStatus polls until the media is ready or failed.
func waitDone(t *testing.T, lib *library.Library, id string) *hlsd.Media {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute) // hang guard, not a performance bound
	for {
		m, err := lib.Get(context.Background(), id)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if m.Status == hlsd.StatusReady || m.Status == hlsd.StatusFailed {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("media %s still %s after 3 minutes", id, m.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// transcodeJob returns the state, attempt and number of recorded errors of
// the media's transcode job in River's Postgres tables.
func transcodeJob(t *testing.T, db *postgres.DB, id string) (state string, attempt, errors int) {
	t.Helper()
	err := db.Pool().QueryRow(context.Background(), `SELECT state, attempt, coalesce(array_length(errors, 1), 0)
		FROM river_job WHERE kind = 'transcode' AND args->>'media_id' = $1`, id).Scan(&state, &attempt, &errors)
	if err != nil {
		t.Fatalf("river_job of %s: %v", id, err)
	}
	return state, attempt, errors
}

// waitJob waits until the media's transcode job is finalized and returns
// its state and attempt.
func waitJob(t *testing.T, db *postgres.DB, id string) (string, int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // hang guard, not a performance bound
	for {
		state, attempt, _ := transcodeJob(t, db, id)
		if state != "running" || time.Now().After(deadline) {
			return state, attempt
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func needFFmpeg(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("transcodes with ffmpeg; skipped under -short")
	}
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("these tests need %s on PATH (apt-get install ffmpeg): %v", bin, err)
		}
	}
}

// TestQueueTranscode uploads a file to a library on Postgres: the transcode
// job goes through River's Postgres tables and a worker makes a playable
// presentation.
func TestQueueTranscode(t *testing.T) {
	needFFmpeg(t)
	url, data := pgtestDatabase(t), t.TempDir()
	lib := openLibrary(t, url, data, library.Config{})
	f, err := os.Open(testmedia.Path(t, "short.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := lib.Create(context.Background(), f, library.Upload{Filename: "short.mp4"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	got := waitDone(t, lib, m.ID)
	if got.Status != hlsd.StatusReady || got.Kind != hlsd.KindVideo || len(got.Renditions) == 0 {
		t.Fatalf("media = %s %s with %d renditions (error %q); want a ready video", got.Status, got.Kind, len(got.Renditions), got.Error)
	}
	if _, err := os.Stat(filepath.Join(lib.Layout().MediaDir(m.ID), "master.m3u8")); err != nil {
		t.Errorf("no master playlist: %v", err)
	}
	// River marks the job completed just after Work returns.
	if state, attempt := waitJob(t, open(t, url), m.ID); state != "completed" || attempt != 1 {
		t.Errorf("transcode job %s after %d attempts, want completed after 1", state, attempt)
	}
}

// TestRescueDeadWorker kills (SIGKILL) a worker process while it holds a
// transcode job. On a shared Postgres queue a starting node must not take
// back running jobs (they may be another live node's), so the job waits for
// River's rescuer: a second node with a short RescueAfter rescues it and
// finishes the media.
func TestRescueDeadWorker(t *testing.T) {
	needFFmpeg(t)
	url, data := pgtestDatabase(t), t.TempDir()
	source := filepath.Join(t.TempDir(), "short.mp4")
	b, err := os.ReadFile(testmedia.Path(t, "short.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(source, b, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+url+" "+data+" "+source)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	line, _ := bufio.NewReader(out).ReadString('\n')
	id, ok := strings.CutPrefix(strings.TrimSpace(line), "processing ")
	if !ok {
		t.Fatalf("worker: %q (%v)", line, cmd.Wait())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill worker: %v", err)
	}
	cmd.Wait()
	db := open(t, url)
	if state, _, _ := transcodeJob(t, db, id); state != "running" {
		t.Fatalf("the dead worker's job is %s, want running", state)
	}

	// River's rescuer looks for stuck jobs when the node starts (then every
	// 30 s): start once the job is older than RescueAfter, so the first look
	// finds it. RescueAfter also bounds the new attempt, which takes a
	// second or two.
	const rescueAfter = 10 * time.Second
	var attempted time.Time
	if err := db.Pool().QueryRow(context.Background(), `SELECT attempted_at FROM river_job WHERE kind = 'transcode'`).Scan(&attempted); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(attempted.Add(rescueAfter)))
	lib := openLibrary(t, url, data, library.Config{RescueAfter: rescueAfter})
	got := waitDone(t, lib, id)
	if got.Status != hlsd.StatusReady {
		t.Fatalf("media after rescue is %s (%s), want ready", got.Status, got.Error)
	}
	state, attempt := waitJob(t, db, id)
	if _, _, errs := transcodeJob(t, db, id); state != "completed" || attempt != 2 || errs != 1 {
		t.Errorf("job %s, attempt %d, %d errors; want completed at attempt 2 with the rescue recorded", state, attempt, errs)
	}
}
