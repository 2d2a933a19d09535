// hostdevctl's subcommands as data: each one is a `Command` (name, help, options, run function) in the
// table of commands.cpp. The parser (arguments.cpp), `--help`, did-you-mean, the bash completion helper
// (`hostdevctl complete`) and the man page test all read that one table, so they cannot drift apart.
//
// Adding a subcommand (e.g. `hostdevctl export FORMAT`):
//   1. cli/cmd_export.cpp: `int run_export(const Invocation& in)` doing the work, and
//      `Command export_command()` describing it (name, positional synopsis, summary, help text, the
//      options it takes, from the shared ones in options.hpp or its own, and its exit statuses);
//   2. declare `export_command()` in commands.hpp and add it to the table in commands.cpp (the order
//      there is the order of `hostdevctl --help`);
//   3. add the file to cli/CMakeLists.txt, the section to docs/man/hostdevctl.8.scd (a test checks that
//      every command and option of the table is in the man page) and a test in tests/cli/.
// Completion needs nothing more: it asks hostdevctl for the commands, options and values.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace hostdevd::cli {

// What an option's value may be, for completion and checking.
enum class ValueKind {
    None,      // a flag
    Directory, // a path (completed by bash as a directory)
    File,      // a path (completed as a file)
    Number,    // a non-negative integer
    Pf,        // a PF address (completed from the live host)
    Device,    // a PCI address
    Pool,      // a pool label (completed from the daemon or the configuration)
    State,     // an object state: converged, pending, blocked, failed, absent, foreign, consent
    Object,    // a plan object: a PCI address or an mdev UUID (completed as a device)
};

struct OptionSpec {
    std::string name; // long name without dashes: "config-dir"
    ValueKind value = ValueKind::None;
    std::string value_name;  // "DIR" in the help; empty for flags
    std::string help;        // one line
    bool repeatable = false; // may be given several times (values accumulate; also comma lists)
};

struct Command;

// A parsed command line for one command.
struct Invocation {
    const Command* command = nullptr;
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> values; // option name -> values, in order

    bool has(const std::string& option) const { return values.count(option) != 0; }
    // The last value given, or `fallback`.
    std::string value(const std::string& option, const std::string& fallback = "") const;
    // Every value given, comma lists split: --state blocked,failed --state pending -> 3 values.
    std::vector<std::string> list(const std::string& option) const;
};

struct Command {
    std::string name;
    std::string arguments; // positional synopsis: "[DIR]", "" for none
    size_t max_positional = 0;
    std::string summary;     // one line for the command list
    std::string description; // paragraphs for `hostdevctl CMD --help`
    std::vector<OptionSpec> options;
    std::string exit_status; // lines for the help's "exit status" section; "" = the common ones
    std::function<int(const Invocation&)> run;
    bool hidden = false; // not listed (the completion helper)
};

} // namespace hostdevd::cli
