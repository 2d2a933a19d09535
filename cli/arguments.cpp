#include "arguments.hpp"

#include "commands.hpp"
#include "common/closest_match.hpp"
#include "exit_codes.hpp"
#include "model/pci_address.hpp"

#include <algorithm>
#include <cctype>
#include <iostream>
#include <set>

namespace hostdevd::cli {

namespace {

// Options every command has; not in the table so that commands need not repeat them.
const std::vector<std::string_view> kBuiltinOptions = {"help", "version"};

// closest_match() (at most two edits away), or else the one candidate the word begins: "--conf" for
// "--config-dir", "imp" for "import-mdevctl".
std::string suggest(std::string_view word, const std::vector<std::string_view>& candidates) {
    if (std::string close = closest_match(word, candidates); !close.empty())
        return close;
    std::string_view only;
    for (auto c : candidates) {
        if (word.size() >= 2 && c.substr(0, word.size()) == word) {
            if (!only.empty())
                return "";
            only = c;
        }
    }
    return std::string(only);
}

const OptionSpec* find_option(const Command& command, std::string_view name) {
    for (const auto& o : command.options)
        if (o.name == name)
            return &o;
    return nullptr;
}

// The commands (visible ones) that have an option of this name, "plan, status".
std::string commands_with_option(std::string_view name) {
    std::string out;
    for (const auto& c : commands())
        if (!c.hidden && find_option(c, name))
            out += (out.empty() ? "" : ", ") + c.name;
    return out;
}

bool takes_value_in_any_command(std::string_view name) {
    for (const auto& c : commands())
        if (const OptionSpec* o = find_option(c, name); o && o->value != ValueKind::None)
            return true;
    return false;
}

std::vector<std::string_view> visible_command_names() {
    std::vector<std::string_view> names;
    for (const auto& c : commands())
        if (!c.hidden)
            names.push_back(c.name);
    return names;
}

std::string command_list() {
    std::string out;
    for (auto n : visible_command_names())
        out += (out.empty() ? "" : ", ") + std::string(n);
    return out;
}

// Repeatable options take comma lists: `check` judges and normalises each item in place (an error
// message, or ""); the value becomes the normalised items joined again. The first error is returned.
template <typename Check>
std::string each_item(std::string& value, Check check) {
    std::string normalised;
    size_t start = 0;
    for (;;) {
        const size_t comma = value.find(',', start);
        std::string item =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (std::string error = check(item); !error.empty())
            return error;
        normalised += (normalised.empty() ? "" : ",") + item;
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    value = normalised;
    return "";
}

// Checks and normalises one option value; returns an error message or "".
std::string check_value(const OptionSpec& option, std::string& value) {
    const std::string flag = "--" + option.name;
    if (value.empty())
        return flag + " needs " +
               (option.value == ValueKind::Directory ? std::string("a directory") : "a value");
    switch (option.value) {
    case ValueKind::Number:
        if (value.size() > 9 ||
            !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return flag + " needs a whole number of " + option.value_name + ", not '" + value + "'";
        break;
    case ValueKind::Pf:
    case ValueKind::Device:
        return each_item(value, [&flag](std::string& item) -> std::string {
            auto address = PciAddress::parse(item);
            if (!address)
                return flag + " needs a PCI address such as 0000:3b:00.0, not '" + item + "'";
            item = address->str();
            return "";
        });
    case ValueKind::Object:
        // A PCI address (normalised) or an mdev UUID (lower case).
        return each_item(value, [&flag](std::string& item) -> std::string {
            std::string lower = item;
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            const bool uuid = lower.size() == 36 && std::all_of(lower.begin(), lower.end(), [](char c) {
                                  return c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                              });
            auto address = PciAddress::parse(item);
            if (!address && !uuid)
                return flag + " needs a PCI address such as 0000:3b:00.0 or an mdev UUID, not '" + item + "'";
            item = address ? address->str() : lower;
            return "";
        });
    case ValueKind::State:
        return each_item(value, [&flag](std::string& item) -> std::string {
            const auto& states = object_states();
            if (std::find(states.begin(), states.end(), item) != states.end())
                return "";
            std::vector<std::string_view> known(states.begin(), states.end());
            std::string hint = suggest(item, known);
            std::string all;
            for (const auto& s : states)
                all += (all.empty() ? "" : ", ") + s;
            return flag + ": unknown state '" + item + "'" +
                   (hint.empty() ? " (states: " + all + ")" : "; did you mean " + hint + "?");
        });
    default:
        break;
    }
    return "";
}

// The first argument that is not an option or an option's value: the command word. Options before it
// are those of any command, so a value-taking one skips its value.
std::optional<size_t> find_command_word(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--")
            return i + 1 < argc ? std::optional<size_t>(i + 1) : std::nullopt;
        if (arg.size() > 1 && arg[0] == '-') {
            if (arg.substr(0, 2) == "--" && arg.find('=') == std::string_view::npos &&
                takes_value_in_any_command(arg.substr(2)))
                ++i;
            continue;
        }
        return i;
    }
    return std::nullopt;
}

bool wants(int argc, const char* const* argv, std::string_view a, std::string_view b = {}) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--")
            return false;
        if (arg == a || (!b.empty() && arg == b))
            return true;
    }
    return false;
}

void print_version() {
    std::cout << "hostdevctl " << HOSTDEVD_VERSION << '\n';
}

std::string option_synopsis(const OptionSpec& o) {
    return "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
}

} // namespace

const std::vector<std::string>& object_states() {
    static const std::vector<std::string> states = {"converged", "pending", "blocked", "failed",
                                                    "absent",    "foreign", "consent"};
    return states;
}

int usage_error(const std::string& message, const Command* command) {
    std::cerr << "hostdevctl: " << message << "\n(see hostdevctl " << (command ? command->name + " " : "")
              << "--help)\n";
    return kExitUsage;
}

void print_global_help(std::ostream& out) {
    out << "usage: hostdevctl COMMAND [ARGUMENTS] [OPTIONS]\n"
           "       hostdevctl COMMAND --help      the options of one command\n"
           "       hostdevctl --version\n\n"
           "Inspect and apply hostdevd's configuration (/etc/hostdevd/*.toml): SR-IOV VFs, driver bindings,\n"
           "mediated devices and vGPU profiles, never disrupting a device in use.\n\ncommands:\n";
    size_t width = 0;
    for (const auto& c : commands())
        if (!c.hidden)
            width = std::max(width, c.name.size() + (c.arguments.empty() ? 0 : c.arguments.size() + 1));
    for (const auto& c : commands()) {
        if (c.hidden)
            continue;
        std::string head = c.name + (c.arguments.empty() ? "" : " " + c.arguments);
        out << "  " << head << std::string(width - head.size() + 3, ' ') << c.summary << '\n';
    }
    out << "\noptions:\n"
           "  -h, --help     this text; after a command, that command's options\n"
           "  --version      print hostdevctl's version\n\n"
           "exit status:\n"
        << kExitStatusHelp << "\nSee hostdevctl(8), hostdevd(8) and hostdevd.toml(5).\n";
}

void print_command_help(std::ostream& out, const Command& c) {
    out << "usage: hostdevctl " << c.name << (c.arguments.empty() ? "" : " " + c.arguments)
        << (c.options.empty() ? "" : " [OPTIONS]") << "\n\n"
        << c.description << "\n\noptions:\n";
    size_t width = 10; // "-h, --help"
    for (const auto& o : c.options)
        width = std::max(width, option_synopsis(o).size());
    for (const auto& o : c.options) {
        std::string head = option_synopsis(o);
        out << "  " << head << std::string(width - head.size() + 3, ' ') << o.help << '\n';
    }
    out << "  -h, --help" << std::string(width - 10 + 3, ' ') << "this text\n\nexit status:\n"
        << (c.exit_status.empty() ? kExitStatusHelp : c.exit_status);
}

std::optional<int> parse_command_line(int argc, const char* const* argv, Invocation& out) {
    auto command_at = find_command_word(argc, argv);
    if (!command_at) {
        if (wants(argc, argv, "--version"))
            return print_version(), kExitOk;
        if (wants(argc, argv, "-h", "--help"))
            return print_global_help(std::cout), kExitOk;
        return usage_error("a command is required (" + command_list() + ")");
    }
    std::string name = argv[*command_at];
    if (name == "help") { // `hostdevctl help [COMMAND]`
        if (*command_at + 1 < static_cast<size_t>(argc)) {
            if (const Command* c = find_command(argv[*command_at + 1]))
                return print_command_help(std::cout, *c), kExitOk;
            return usage_error("unknown command '" + std::string(argv[*command_at + 1]) + "'");
        }
        return print_global_help(std::cout), kExitOk;
    }
    const Command* command = find_command(name);
    if (!command) {
        std::string hint = suggest(name, visible_command_names());
        return usage_error(
            "unknown command '" + name + "'" +
            (hint.empty() ? " (commands: " + command_list() + ")" : "; did you mean " + hint + "?"));
    }
    if (wants(argc, argv, "--version"))
        return print_version(), kExitOk;
    if (wants(argc, argv, "-h", "--help"))
        return print_command_help(std::cout, *command), kExitOk;

    out = Invocation{};
    out.command = command;
    bool options_ended = false;
    for (int i = 1; i < argc; ++i) {
        if (static_cast<size_t>(i) == *command_at)
            continue;
        std::string arg = argv[i];
        if (options_ended || arg.size() < 2 || arg[0] != '-') {
            out.positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_ended = true;
            continue;
        }
        if (arg[1] != '-')
            return usage_error("unknown option " + arg, command);
        std::string opt = arg.substr(2);
        std::optional<std::string> value;
        if (auto eq = opt.find('='); eq != std::string::npos) {
            value = opt.substr(eq + 1);
            opt = opt.substr(0, eq);
        }
        const OptionSpec* spec = find_option(*command, opt);
        if (!spec) {
            if (std::string owners = commands_with_option(opt); !owners.empty())
                return usage_error(command->name + " has no --" + opt + " option (" + owners + " have it)",
                                   command);
            std::vector<std::string_view> known(kBuiltinOptions);
            for (const auto& o : command->options)
                known.push_back(o.name);
            std::string hint = suggest(opt, known);
            return usage_error(
                "unknown option --" + opt + (hint.empty() ? "" : "; did you mean --" + hint + "?"), command);
        }
        if (spec->value == ValueKind::None) {
            if (value)
                return usage_error("option --" + opt + " takes no value", command);
            out.values[opt].push_back("");
            continue;
        }
        if (!value) {
            if (i + 1 >= argc || static_cast<size_t>(i + 1) == *command_at)
                return usage_error("option --" + opt + " needs a value (" + spec->value_name + ")", command);
            value = argv[++i];
        }
        if (std::string problem = check_value(*spec, *value); !problem.empty())
            return usage_error(problem, command);
        out.values[opt].push_back(*value);
    }
    if (out.positional.size() > command->max_positional)
        return usage_error("unexpected argument '" + out.positional[command->max_positional] + "'", command);
    return std::nullopt;
}

} // namespace hostdevd::cli
