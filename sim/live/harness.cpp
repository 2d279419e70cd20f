// espline live harness: the appliance's Verilator model as a network device (docs/live.md).
//
// One process, one appliance. Its packet ports are attached to Linux links: `plain` and
// `cipher` to network interfaces through AF_PACKET sockets, `host` to an interface or to a
// Unix SOCK_SEQPACKET socket (one frame per message) where a key-management daemon connects.
// Its Wishbone register bus is served on a Unix stream socket and, optionally, on TCP
// 127.0.0.1:PORT, in the UART bridge's byte protocol (espline.gateware.csr.uart_bridge):
//     read:   'R' A3 A2 A1 A0              ->  'r' D3 D2 D1 D0
//     write:  'W' A3 A2 A1 A0 D3 D2 D1 D0  ->  'w'
// The clock runs while there is work (a frame queued, a bus cycle, a frame inside the
// appliance) and stops when there is none: the appliance has no timers, so stopping the
// clock changes nothing it computes. SIGINT/SIGTERM end it cleanly.
//
// Built by espline.sim.live with -DWIDTH=<packet bus bytes> against the module espline_live (the
// appliance behind registered ports, espline.sim.live.boundary)
// (Verilator spells the port `plain_i__valid` as `plain_i___05Fvalid`).

#include "Vespline_live.h"
#include "verilated.h"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <memory>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#ifndef WIDTH
#error "build with -DWIDTH=<packet bus width in bytes>"
#endif
#ifndef ADDR_WIDTH
#error "build with -DADDR_WIDTH=<Wishbone word address bits>"
#endif

using Bytes = std::vector<uint8_t>;
static volatile sig_atomic_t stopping = 0;
static const size_t MAX_QUEUE = 256;  // frames waiting for an input port; more wait in the socket

[[noreturn]] static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "espline run: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static double now(clockid_t clock = CLOCK_REALTIME) {
    timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// -- pcap (libpcap format, LINKTYPE_ETHERNET), one file per port and direction -----------------
struct Pcap {
    FILE *f = nullptr;
    void open(const std::string &path) {
        f = fopen(path.c_str(), "wb");
        if (!f) fail("cannot write %s: %s", path.c_str(), strerror(errno));
        uint32_t header[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
        fwrite(header, 1, sizeof header, f);
    }
    void write(const Bytes &frame) {
        if (!f) return;
        double t = now();
        uint32_t record[4] = {uint32_t(t), uint32_t((t - uint32_t(t)) * 1e6), uint32_t(frame.size()),
                              uint32_t(frame.size())};
        fwrite(record, 1, sizeof record, f);
        fwrite(frame.data(), 1, frame.size(), f);
    }
    ~Pcap() { if (f) fclose(f); }
};

// -- links: where a port's frames come from and go to ------------------------------------------
struct Link {
    std::string name;
    virtual ~Link() {}
    virtual int fd() const = 0;                 // to poll for input (or a new client)
    virtual void readable() = 0;                // called when fd() polls readable
    virtual bool receive(Bytes &frame) = 0;     // one frame, non-blocking; false if none
    virtual void send(const Bytes &frame) = 0;  // may drop if the peer cannot take it (counted)
    virtual bool attached() const { return true; }
    virtual uint64_t lost() { return 0; }  // frames lost on the way in, before the appliance
    uint64_t send_failed = 0;
  protected:
    Bytes buffer = Bytes(65536);  // where a frame is received (not a new 64 KiB per attempt)
};

// An interface through AF_PACKET: every frame on it, none of our own (PACKET_IGNORE_OUTGOING).
struct InterfaceLink : Link {
    int sock;
    InterfaceLink(const std::string &ifname) {
        name = ifname;
        unsigned index = if_nametoindex(ifname.c_str());
        if (!index) fail("no network interface %s in this network namespace", ifname.c_str());
        sock = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
        if (sock < 0)
            fail("cannot open a packet socket (%s): needs CAP_NET_RAW, e.g. run as root", strerror(errno));
        sockaddr_ll addr = {};
        addr.sll_family = AF_PACKET;
        addr.sll_protocol = htons(ETH_P_ALL);
        addr.sll_ifindex = index;
        if (bind(sock, (sockaddr *)&addr, sizeof addr) < 0) fail("bind to %s: %s", ifname.c_str(), strerror(errno));
        int one = 1;
        if (setsockopt(sock, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0)
            fail("PACKET_IGNORE_OUTGOING on %s: %s", ifname.c_str(), strerror(errno));
        int buffer = 16 << 20;  // frames wait here while the appliance is busy: room for bursts
        setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
        packet_mreq mreq = {};
        mreq.mr_ifindex = index;
        mreq.mr_type = PACKET_MR_PROMISC;
        if (setsockopt(sock, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0)
            fail("promiscuous mode on %s: %s", ifname.c_str(), strerror(errno));
    }
    int fd() const override { return sock; }
    void readable() override {}
    bool receive(Bytes &frame) override {
        ssize_t n = recv(sock, buffer.data(), buffer.size(), MSG_TRUNC);
        if (n < 0) return false;
        // a longer one is cut: the appliance drops it malformed
        frame.assign(buffer.begin(), buffer.begin() + (size_t(n) < buffer.size() ? n : buffer.size()));
        return true;
    }
    void send(const Bytes &frame) override {
        if (::send(sock, frame.data(), frame.size(), 0) < 0) send_failed++;
    }
    uint64_t lost() override {  // frames the kernel dropped because the socket's buffer was full
        tpacket_stats stats = {};
        socklen_t len = sizeof stats;
        if (getsockopt(sock, SOL_PACKET, PACKET_STATISTICS, &stats, &len) == 0) kernel_drops += stats.tp_drops;
        return kernel_drops;
    }
    uint64_t kernel_drops = 0;
};

// A Unix SOCK_SEQPACKET socket that one daemon at a time connects to: a frame per message.
struct DaemonLink : Link {
    int listener, client = -1;
    std::string path;
    DaemonLink(const std::string &p) : path(p) {
        name = "unix:" + p;
        listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
        sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        if (p.size() >= sizeof addr.sun_path) fail("socket path too long: %s", p.c_str());
        strcpy(addr.sun_path, p.c_str());
        unlink(p.c_str());
        if (bind(listener, (sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 1) < 0)
            fail("cannot listen on %s: %s", p.c_str(), strerror(errno));
    }
    ~DaemonLink() { unlink(path.c_str()); }
    int fd() const override { return client >= 0 ? client : listener; }
    bool attached() const override { return client >= 0; }
    void readable() override {
        if (client < 0) client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
    }
    bool receive(Bytes &frame) override {
        if (client < 0) return false;
        ssize_t n = recv(client, buffer.data(), buffer.size(), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {  // the daemon left (or sent 0 bytes)
            close(client);
            client = -1;
            return false;
        }
        if (n < 0) return false;
        frame.assign(buffer.begin(), buffer.begin() + n);
        return true;
    }
    void send(const Bytes &frame) override {
        if (client < 0 || ::send(client, frame.data(), frame.size(), MSG_NOSIGNAL) < 0) send_failed++;
    }
};

// -- a packet port of the appliance: frames to beats and back (espline.gateware.packet) --------
// A beat: `data` WIDTH bytes (first byte on the wire in the lowest lane), `nbytes`, `first`, `last`.
static const int NBYTES_BITS = 32 - __builtin_clz(WIDTH);  // WIDTH.bit_length()

template <typename Wide> static void set_bits(Wide &w, int lsb, int n, uint32_t v) {
    for (int i = 0; i < n; i++) {
        int b = lsb + i;
        w[b / 32] = (w[b / 32] & ~(1u << (b % 32))) | (((v >> i) & 1u) << (b % 32));
    }
}
template <typename Wide> static uint32_t get_bits(const Wide &w, int lsb, int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; i++) v |= ((w[(lsb + i) / 32] >> ((lsb + i) % 32)) & 1u) << i;
    return v;
}

template <typename Wide> static void set_byte(Wide &w, int i, uint8_t v) {
    w[i / 4] = (w[i / 4] & ~(0xFFu << (8 * (i % 4)))) | (uint32_t(v) << (8 * (i % 4)));
}

template <typename Wide> struct Port {
    const char *name;
    Link *link;
    // appliance input (frames from the link into the appliance)
    CData &in_valid, &in_ready;
    Wide &in_payload;
    // appliance output (frames from the appliance to the link)
    CData &out_valid, &out_ready;
    Wide &out_payload;
    std::deque<Bytes> queue;
    size_t offset = 0;
    Bytes assembling;
    uint64_t frames_in = 0, frames_out = 0;
    Pcap pcap_in, pcap_out;

    bool driven = false;  // the payload holds the head frame's beat at `offset`

    void drive() {
        in_valid = !queue.empty();
        if (in_valid && !driven) {
            const Bytes &f = queue.front();
            size_t n = f.size() - offset < WIDTH ? f.size() - offset : WIDTH;
            for (int i = 0; i < WIDTH; i++) set_byte(in_payload, i, i < (int)n ? f[offset + i] : 0);
            set_bits(in_payload, 8 * WIDTH, NBYTES_BITS, n);
            set_bits(in_payload, 8 * WIDTH + NBYTES_BITS, 1, offset == 0);
            set_bits(in_payload, 8 * WIDTH + NBYTES_BITS + 1, 1, offset + n == f.size());
            driven = true;
        }
        out_ready = link->attached();
    }
    // Before the clock edge: the handshakes of this cycle (ready and valid as the last edge left
    // them: they come from flip-flops, espline.sim.live.boundary).
    // Returns whether a beat moved.
    bool transfer() {
        bool moved = false;
        if (in_valid && in_ready) {
            moved = true;
            const Bytes &f = queue.front();
            offset += f.size() - offset < WIDTH ? f.size() - offset : WIDTH;
            driven = false;
            if (offset >= f.size()) {
                queue.pop_front();
                offset = 0;
            }
        }
        if (out_valid && out_ready) {
            moved = true;
            unsigned n = get_bits(out_payload, 8 * WIDTH, NBYTES_BITS);
            for (unsigned i = 0; i < n && i < WIDTH; i++) assembling.push_back(out_payload[i / 4] >> (8 * (i % 4)));
            if (get_bits(out_payload, 8 * WIDTH + NBYTES_BITS + 1, 1)) {
                frames_out++;
                pcap_out.write(assembling);
                link->send(assembling);
                assembling.clear();
            }
        }
        return moved;
    }
    void take_frames() {
        Bytes frame;
        while (queue.size() < MAX_QUEUE && link->receive(frame)) {
            frames_in++;
            pcap_in.write(frame);
            queue.push_back(std::move(frame));
            frame = Bytes();
        }
    }
};

// -- the register bus on sockets: the UART bridge's protocol ------------------------------------
struct Client {
    int fd;
    Bytes in;
};

struct Management {
    std::vector<int> listeners;
    std::vector<Client> clients;
    std::string unix_path;
    // the bus cycle under way: which client, and its reply
    int busy_fd = -1;
    bool write = false;
    uint32_t address = 0, value = 0;
    uint64_t commands = 0;

    void listen_unix(const std::string &path) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
        sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof addr.sun_path) fail("socket path too long: %s", path.c_str());
        strcpy(addr.sun_path, path.c_str());
        unlink(path.c_str());
        if (bind(s, (sockaddr *)&addr, sizeof addr) < 0 || listen(s, 8) < 0)
            fail("cannot listen on %s: %s", path.c_str(), strerror(errno));
        unix_path = path;
        listeners.push_back(s);
    }
    void listen_tcp(int port) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr = {};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(s, (sockaddr *)&addr, sizeof addr) < 0 || listen(s, 8) < 0)
            fail("cannot listen on 127.0.0.1:%d: %s", port, strerror(errno));
        listeners.push_back(s);
    }
    ~Management() {
        if (!unix_path.empty()) unlink(unix_path.c_str());
    }
    void accept_clients(int listener) {
        int c;
        while ((c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) clients.push_back({c, {}});
    }
    void read_client(size_t k) {
        uint8_t buf[4096];
        ssize_t n;
        while ((n = recv(clients[k].fd, buf, sizeof buf, 0)) > 0) clients[k].in.insert(clients[k].in.end(), buf, buf + n);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            close(clients[k].fd);
            if (busy_fd == clients[k].fd) busy_fd = -2;  // finish the cycle, drop the reply
            clients.erase(clients.begin() + k);
        }
    }
    // The next command of any client, as the bridge parses it (other bytes are skipped).
    bool next_command() {
        for (auto &c : clients) {
            while (!c.in.empty() && c.in[0] != 'R' && c.in[0] != 'W') c.in.erase(c.in.begin());
            size_t need = c.in.empty() ? 0 : c.in[0] == 'R' ? 5 : 9;
            if (need && c.in.size() >= need) {
                write = c.in[0] == 'W';
                address = (c.in[1] << 24) | (c.in[2] << 16) | (c.in[3] << 8) | c.in[4];
                value = write ? (c.in[5] << 24) | (c.in[6] << 16) | (c.in[7] << 8) | c.in[8] : 0;
                c.in.erase(c.in.begin(), c.in.begin() + need);
                busy_fd = c.fd;
                commands++;
                return true;
            }
        }
        return false;
    }
    void reply(uint32_t data) {
        if (busy_fd >= 0) {
            uint8_t r[5] = {uint8_t(write ? 'w' : 'r'), uint8_t(data >> 24), uint8_t(data >> 16), uint8_t(data >> 8),
                            uint8_t(data)};
            ::send(busy_fd, r, write ? 1 : 5, MSG_NOSIGNAL);  // a tiny reply to a waiting client
        }
        busy_fd = -1;
    }
};

// -- the appliance ----------------------------------------------------------------------------
struct Device {
    Vespline_live top;
    uint64_t cycles = 0;
    // One clock cycle. The edge's `eval` settles everything the harness reads next (it all comes
    // from flip-flops: espline.sim.live.boundary); the falling edge's costs little, as no logic
    // but the boundary's depends on the inputs, and lets the next rising edge be seen as one.
    void tick() {
        top.clk = 1;
        top.eval();
        top.clk = 0;
        top.eval();
        cycles++;
    }
};

static void usage() {
    fprintf(stderr,
            "usage: espline-live --plain IF --cipher IF [--host IF|unix:PATH] --mgmt PATH [--tcp PORT] [--pcap DIR]\n");
    exit(2);
}

int main(int argc, char **argv) {
    std::string plain, cipher, host, mgmt, pcap;
    int tcp = 0;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc) usage();
        std::string v = argv[++i];
        if (a == "--plain") plain = v;
        else if (a == "--cipher") cipher = v;
        else if (a == "--host") host = v;
        else if (a == "--mgmt") mgmt = v;
        else if (a == "--tcp") tcp = atoi(v.c_str());
        else if (a == "--pcap") pcap = v;
        else usage();
    }
    if (plain.empty() || cipher.empty() || mgmt.empty()) usage();

    std::unique_ptr<Link> plain_link(new InterfaceLink(plain)), cipher_link(new InterfaceLink(cipher));
    std::unique_ptr<Link> host_link;
    if (host.rfind("unix:", 0) == 0) host_link.reset(new DaemonLink(host.substr(5)));
    else if (!host.empty()) host_link.reset(new InterfaceLink(host));
    else host_link.reset(new DaemonLink(mgmt + ".host"));
    Management bus;
    bus.listen_unix(mgmt);
    if (tcp) bus.listen_tcp(tcp);

    signal(SIGINT, [](int) { stopping = 1; });
    signal(SIGTERM, [](int) { stopping = 1; });
    signal(SIGPIPE, SIG_IGN);

    Device dev;
    auto &t = dev.top;
    using Wide = decltype(t.plain_i___05Fpayload);
    Port<Wide> ports[3] = {
        {"plain", plain_link.get(), t.plain_i___05Fvalid, t.plain_i___05Fready, t.plain_i___05Fpayload, t.plain_o___05Fvalid,
         t.plain_o___05Fready, t.plain_o___05Fpayload},
        {"cipher", cipher_link.get(), t.cipher_i___05Fvalid, t.cipher_i___05Fready, t.cipher_i___05Fpayload, t.cipher_o___05Fvalid,
         t.cipher_o___05Fready, t.cipher_o___05Fpayload},
        {"host", host_link.get(), t.host_i___05Fvalid, t.host_i___05Fready, t.host_i___05Fpayload, t.host_o___05Fvalid,
         t.host_o___05Fready, t.host_o___05Fpayload},
    };
    if (!pcap.empty()) {
        mkdir(pcap.c_str(), 0755);
        for (auto &p : ports) {
            p.pcap_in.open(pcap + "/" + p.name + "-in.pcap");
            p.pcap_out.open(pcap + "/" + p.name + "-out.pcap");
        }
    }
    t.rst = 1;
    for (int i = 0; i < 4; i++) dev.tick();
    t.rst = 0;
    dev.tick();  // the appliance's reset is a flip-flop (espline.sim.live.boundary): it ends an edge later

    printf("espline run: appliance up: plain=%s cipher=%s host=%s; registers on unix:%s", plain.c_str(),
           cipher.c_str(), host_link->name.c_str(), mgmt.c_str());
    if (tcp) printf(" and tcp:127.0.0.1:%d", tcp);
    printf("; Ctrl-C stops it\n");
    fflush(stdout);

    auto start_bus_cycle = [&]() {  // a Wishbone B4 classic cycle for the next command, if any
        if (!bus.next_command()) return false;
        t.bus___05Fcyc = t.bus___05Fstb = 1;
        t.bus___05Fwe = bus.write;
        t.bus___05Fadr = (bus.address >> 2) & ((1u << ADDR_WIDTH) - 1);  // the bridge's truncation
        t.bus___05Fdat_w = bus.value;
        t.bus___05Fsel = 0xF;
        return true;
    };
    // busy: wall time spent clocking the appliance; cpu: this thread's CPU time in it (the
    // model's own speed on a shared machine, where the wall time includes waiting for a core)
    double start = now(), busy = 0, cpu = 0;
    bool bus_cycle = false;
    uint64_t quiet = 0;  // cycles since the last beat moved
    while (!stopping) {
        // 1. the outside world: poll every link and socket; block only when the appliance has nothing to do
        bool work = bus_cycle || (!t.idle && quiet < 100000);
        for (auto &p : ports) work |= !p.queue.empty();
        std::vector<pollfd> fds;
        for (auto &p : ports) fds.push_back({p.link->fd(), POLLIN, 0});
        for (int l : bus.listeners) fds.push_back({l, POLLIN, 0});
        for (auto &c : bus.clients) fds.push_back({c.fd, POLLIN, 0});
        if (poll(fds.data(), fds.size(), work ? 0 : 200) < 0 && errno != EINTR) fail("poll: %s", strerror(errno));
        size_t k = 0;
        for (auto &p : ports)
            if (fds[k++].revents) p.link->readable();
        for (int l : bus.listeners)
            if (fds[k++].revents) bus.accept_clients(l);
        for (size_t c = bus.clients.size(); c-- > 0;)
            if (fds[k + c].revents) bus.read_client(c);
        for (auto &p : ports) p.take_frames();
        if (!bus_cycle) bus_cycle = start_bus_cycle();
        // 2. the appliance: a burst of cycles before looking outside again
        double burst = now(), burst_cpu = now(CLOCK_THREAD_CPUTIME_ID);
        for (int n = 0; n < 256 && !stopping; n++) {
            for (auto &p : ports) p.drive();
            bool moved = false;  // the handshakes: ready and valid from flip-flops, no eval needed
            for (auto &p : ports) moved |= p.transfer();
            quiet = moved ? 0 : quiet + 1;
            if (bus_cycle && t.bus___05Fack) {
                bus.reply(t.bus___05Fdat_r);
                bus_cycle = false;
                t.bus___05Fcyc = t.bus___05Fstb = t.bus___05Fwe = 0;
            }
            dev.tick();
            if (!bus_cycle) bus_cycle = start_bus_cycle();
            bool pending = bus_cycle;
            for (auto &p : ports) pending |= !p.queue.empty();
            if (!pending && (t.idle || quiet >= 100000)) break;
        }
        busy += now() - burst;
        cpu += now(CLOCK_THREAD_CPUTIME_ID) - burst_cpu;
    }
    double wall = now() - start;
    printf("espline run: stopped after %.1f s, %llu cycles in %.1f s of clocking (%.0f cycles/s; %.1f s of CPU, "
           "%.0f cycles per CPU second), %llu register accesses\n", wall, (unsigned long long)dev.cycles, busy,
           dev.cycles / (busy > 0 ? busy : 1), cpu, dev.cycles / (cpu > 0 ? cpu : 1), (unsigned long long)bus.commands);
    for (auto &p : ports) {
        printf("espline run: %-6s %s: %llu frames in, %llu frames out", p.name, p.link->name.c_str(),
               (unsigned long long)p.frames_in, (unsigned long long)p.frames_out);
        if (uint64_t lost = p.link->lost()) printf(", %llu lost before the appliance (socket buffer full)",
                                                   (unsigned long long)lost);
        if (p.link->send_failed) printf(", %llu not taken by the link", (unsigned long long)p.link->send_failed);
        printf("\n");
    }
    t.final();
    return 0;
}
