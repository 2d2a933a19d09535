#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace hostdevd::cli {

bool ProgressLine::stdout_is_terminal() {
    return isatty(STDOUT_FILENO) == 1;
}

void ProgressLine::show(const std::string& text) {
    if (!enabled_)
        return;
    size_t width = 80;
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
        width = ws.ws_col;
    std::string line = text.size() < width ? text : text.substr(0, width - 2) + "…";
    out_ << "\r\033[K" << line << std::flush; // carriage return + erase to end of line
    shown_ = true;
}

void ProgressLine::clear() {
    if (enabled_ && shown_)
        out_ << "\r\033[K" << std::flush;
    shown_ = false;
}

ProgressTicker::ProgressTicker(ProgressLine& line, std::function<std::string()> render,
                               std::chrono::milliseconds delay)
    : line_(line), render_(std::move(render)) {
    if (!line_.enabled())
        return;
    thread_ = std::thread([this, delay] {
        std::unique_lock lock(mutex_);
        if (stop_cv_.wait_for(lock, delay, [this] { return stop_; }))
            return;
        do {
            line_.show(render_());
        } while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stop_; }));
    });
}

ProgressTicker::~ProgressTicker() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    stop_cv_.notify_all();
    if (thread_.joinable())
        thread_.join();
    line_.clear();
}

unsigned ApplyActivity::begin(std::string what) {
    std::lock_guard lock(mutex_);
    unsigned id = next_id_++;
    in_flight_[id] = {Clock::now(), std::move(what)};
    return id;
}

void ApplyActivity::end(unsigned id) {
    std::lock_guard lock(mutex_);
    in_flight_.erase(id);
    ++done_;
}

WriteOutcome ApplyActivity::write(const SysfsWrite& w) {
    std::string value = w.value;
    while (!value.empty() && value.back() == '\n')
        value.pop_back();
    // "0000:3b:00.0/sriov_numvfs = "4"": short enough for the line to fit a terminal; other paths whole.
    std::string_view path = w.path;
    constexpr std::string_view pci = "bus/pci/devices/";
    std::string where =
        path.substr(0, pci.size()) == pci ? std::string(path.substr(pci.size())) : "/sys/" + w.path;
    unsigned id = begin(where + " = \"" + value + "\"");
    WriteOutcome outcome = writer_.write(w);
    end(id);
    return outcome;
}

ModuleLoadOutcome ApplyActivity::load(const std::string& module) {
    unsigned id = begin("modprobe " + module);
    ModuleLoadOutcome outcome = modules_.load(module);
    end(id);
    return outcome;
}

std::string ApplyActivity::describe() const {
    std::lock_guard lock(mutex_);
    std::string text = "applying: " + std::to_string(done_) + (done_ == 1 ? " write" : " writes") + " done; ";
    if (in_flight_.empty())
        return text + "reading the host";
    // The oldest operation in flight is what the apply waits for.
    auto oldest = in_flight_.begin();
    for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it)
        if (it->second.first < oldest->second.first)
            oldest = it;
    auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - oldest->second.first).count();
    text += "waiting " + std::to_string(seconds) + " s for " + oldest->second.second;
    if (in_flight_.size() > 1)
        text += " (+" + std::to_string(in_flight_.size() - 1) + " more in flight)";
    return text;
}

} // namespace hostdevd::cli
