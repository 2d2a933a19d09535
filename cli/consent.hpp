// Consent for actions that destroy devices that exist (docs/safety.md "Consent"): what `hostdevctl apply`
// lists before it asks, and how the operator answers: --yes (every such action of this run), --approve
// OBJECT (those on the objects named), or a y/N question when stdin and stdout are terminals. Without any
// of them nothing is destroyed and the apply ends blocked (exit status 3) with the list.
#pragma once

#include "command.hpp"
#include "model/plan.hpp"

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hostdevd::cli {

struct ConsentItem {
    std::string object;                // PCI address or mdev UUID
    std::string summary;               // "sriov_numvfs 8 -> 0 -> 2"
    std::vector<std::string> destroys; // "0000:3b:02.0 (driver iavf)", one per device destroyed
};

ConsentItem consent_item(const Action& action);
// The actions awaiting consent in a plan's JSON (hostdevctl plan --json, Describe()'s "plan").
std::vector<ConsentItem> awaiting_consent(const nlohmann::json& plan);

// "0000:3b:00.0 sriov_numvfs 8 -> 0 -> 2 destroys 8 devices:" and one indented line per device.
void print_consent_items(std::ostream& out, const std::vector<ConsentItem>& items);

// The operator's answer for each item: --yes, --approve, else the question on a terminal (the list is
// printed first), else no.
std::vector<bool> ask_consent(const std::vector<ConsentItem>& items, const Invocation& in);

// How to give the consent that was not given: the line printed after the list of what is left.
std::string consent_hint(bool through_daemon);

OptionSpec yes_option();
OptionSpec approve_option();

} // namespace hostdevd::cli
