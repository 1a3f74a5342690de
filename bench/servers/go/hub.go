// Bench-only baseline: a chat hub on gorilla/websocket, the design many chat servers use.
// Speaks the slice of Parley's wire contract the bench needs (bench/servers/shared/wire.ts):
// /v1/rooms/{room}/ws?guest=, welcome + synced on connect, every send broadcast to the room.
//
//	-durable=false  in-memory: a send is broadcast at once.
//	-durable=true   each frame is appended to SQLite in WAL mode with synchronous=FULL, frames
//	                that arrive together commit in one transaction (group commit), and only
//	                then are they broadcast, so nobody sees a message that a crash could lose.
//
// mattn/go-sqlite3 silently runs WAL with synchronous=NORMAL (a commit is not fsynced) unless
// told otherwise: the DSN asks for FULL and the server checks it got it before listening.
// Built by the bench in GOPATH mode from Debian's packages (no module downloads).
package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	_ "github.com/mattn/go-sqlite3"
)

var (
	routePattern = regexp.MustCompile(`^/v1/rooms/([a-z0-9][a-z0-9._-]{0,63})/ws$`)
	guestPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	upgrader     = websocket.Upgrader{ReadBufferSize: 16384, WriteBufferSize: 16384, CheckOrigin: func(*http.Request) bool { return true }}
)

// A socket's outgoing queue; a reader that falls this far behind is dropped, as in gorilla's chat example.
const sendQueue = 8192

type author struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type messageFrame struct {
	Type   string `json:"type"`
	Seq    int64  `json:"seq"`
	MsgID  string `json:"msgId"`
	Author author `json:"author"`
	Text   string `json:"text"`
	Ts     int64  `json:"ts"`
}

type sendFrame struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Text string `json:"text"`
}

type client struct {
	conn  *websocket.Conn
	send  chan []byte
	guest string
}

type inbound struct {
	from *client
	msg  sendFrame
}

type room struct {
	name     string
	mu       sync.Mutex
	clients  map[*client]struct{}
	seq      int64
	incoming chan inbound
}

type hub struct {
	mu    sync.Mutex
	rooms map[string]*room
	db    *sql.DB
}

func (h *hub) room(name string) *room {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rooms[name]
	if !ok {
		r = &room{name: name, clients: map[*client]struct{}{}, incoming: make(chan inbound, 65536)}
		h.rooms[name] = r
		if h.db != nil {
			go h.commitLoop(r)
		}
	}
	return r
}

func (r *room) join(c *client) {
	r.mu.Lock()
	r.clients[c] = struct{}{}
	r.mu.Unlock()
}

func (r *room) leave(c *client) {
	r.mu.Lock()
	if _, ok := r.clients[c]; ok {
		delete(r.clients, c)
		close(c.send)
	}
	r.mu.Unlock()
}

// broadcast queues frames, in order, to every socket of the room; a full queue drops that socket.
func (r *room) broadcast(frames [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.clients {
		for _, frame := range frames {
			select {
			case c.send <- frame:
			default:
				delete(r.clients, c)
				close(c.send)
				goto next
			}
		}
	next:
	}
}

func (r *room) frame(c *client, msg sendFrame) []byte {
	r.seq++
	out, _ := json.Marshal(messageFrame{Type: "message", Seq: r.seq, MsgID: msg.ID, Author: author{ID: "guest:" + c.guest, Name: c.guest}, Text: msg.Text, Ts: time.Now().UnixMilli()})
	return out
}

// commitLoop is the durable room's only writer: it takes everything queued, commits it in one
// transaction, and broadcasts only after the commit returned.
func (h *hub) commitLoop(r *room) {
	insert, err := h.db.Prepare("INSERT INTO events (room, seq, msg_id, author, text, ts) VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		log.Fatal(err)
	}
	batch := make([]inbound, 0, 1024)
	for first := range r.incoming {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < 4096 {
			select {
			case next := <-r.incoming:
				batch = append(batch, next)
			default:
				break drain
			}
		}
		tx, err := h.db.Begin()
		if err != nil {
			log.Fatal(err)
		}
		stmt := tx.Stmt(insert)
		frames := make([][]byte, 0, len(batch))
		for _, in := range batch {
			frame := r.frame(in.from, in.msg)
			if _, err := stmt.Exec(r.name, r.seq, in.msg.ID, in.from.guest, in.msg.Text, time.Now().UnixMilli()); err != nil {
				log.Fatal(err)
			}
			frames = append(frames, frame)
		}
		if err := tx.Commit(); err != nil {
			log.Fatal(err)
		}
		r.broadcast(frames)
	}
}

func (c *client) writeLoop() {
	defer c.conn.Close()
	for frame := range c.send {
		if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
			return
		}
	}
	c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "dropped"))
}

func (h *hub) serveSocket(w http.ResponseWriter, req *http.Request) {
	match := routePattern.FindStringSubmatch(req.URL.Path)
	guest := req.URL.Query().Get("guest")
	if match == nil || !guestPattern.MatchString(guest) {
		http.NotFound(w, req)
		return
	}
	conn, err := upgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	r := h.room(match[1])
	c := &client{conn: conn, send: make(chan []byte, sendQueue), guest: guest}
	welcome, _ := json.Marshal(map[string]any{"type": "welcome", "room": r.name, "user": author{ID: "guest:" + guest, Name: guest}, "lastSeq": 0, "online": []author{}})
	c.send <- welcome
	c.send <- []byte(`{"type":"synced","through":0}`)
	r.join(c)
	go c.writeLoop()
	defer r.leave(c)
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var msg sendFrame
		if string(data) == "ping" || json.Unmarshal(data, &msg) != nil || msg.Type != "send" {
			continue
		}
		if h.db != nil {
			r.incoming <- inbound{from: c, msg: msg}
		} else {
			r.mu.Lock()
			frame := r.frame(c, msg)
			r.mu.Unlock()
			r.broadcast([][]byte{frame})
		}
	}
}

func openDurable(path string) *sql.DB {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000")
	if err != nil {
		log.Fatal(err)
	}
	// One connection: SQLite has one writer anyway, and every pragma then holds for every statement.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS events (room TEXT NOT NULL, seq INTEGER NOT NULL, msg_id TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (room, seq))"); err != nil {
		log.Fatal(err)
	}
	var mode string
	var synchronous int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		log.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA synchronous").Scan(&synchronous); err != nil {
		log.Fatal(err)
	}
	if mode != "wal" || synchronous != 2 {
		log.Fatalf("expected WAL with synchronous=FULL (2), got %s with %d", mode, synchronous)
	}
	return db
}

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1")
	durable := flag.Bool("durable", false, "commit each frame to SQLite (WAL, synchronous=FULL) before broadcasting it")
	dbPath := flag.String("db", "", "SQLite file (with -durable)")
	flag.Parse()
	h := &hub{rooms: map[string]*room{}}
	if *durable {
		if *dbPath == "" {
			fmt.Fprintln(os.Stderr, "-durable needs -db")
			os.Exit(2)
		}
		h.db = openDurable(*dbPath)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("/", h.serveSocket)
	listener, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(*port))
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(listener, mux))
}
