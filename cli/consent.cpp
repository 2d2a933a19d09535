#include "consent.hpp"

#include <algorithm>
#include <iostream>
#include <string>
#include <unistd.h>

namespace hostdevd::cli {

ConsentItem consent_item(const Action& action) {
    return {action.object, action.summary, action.destroys};
}

std::vector<ConsentItem> awaiting_consent(const nlohmann::json& plan) {
    std::vector<ConsentItem> items;
    if (!plan.is_object() || !plan.contains("actions"))
        return items;
    for (const auto& a : plan.at("actions")) {
        if (!a.contains("held") || a.at("held").value("kind", "") != "consent")
            continue;
        ConsentItem item{a.value("object", ""), a.value("summary", ""), {}};
        if (a.contains("destroys"))
            item.destroys = a.at("destroys").get<std::vector<std::string>>();
        items.push_back(std::move(item));
    }
    return items;
}

void print_consent_items(std::ostream& out, const std::vector<ConsentItem>& items) {
    for (const ConsentItem& item : items) {
        out << item.object << " " << item.summary << " destroys " << item.destroys.size()
            << (item.destroys.size() == 1 ? " device:\n" : " devices:\n");
        for (const std::string& d : item.destroys)
            out << "    " << d << '\n';
    }
}

std::vector<bool> ask_consent(const std::vector<ConsentItem>& items, const Invocation& in) {
    std::vector<bool> yes(items.size(), false);
    if (in.has("yes")) {
        std::fill(yes.begin(), yes.end(), true);
        return yes;
    }
    if (in.has("approve")) {
        const std::vector<std::string> named = in.list("approve");
        for (size_t i = 0; i < items.size(); ++i)
            yes[i] = std::find(named.begin(), named.end(), items[i].object) != named.end();
        return yes;
    }
    if (in.has("json") || !::isatty(STDIN_FILENO) || !::isatty(STDOUT_FILENO))
        return yes;
    std::cout << "\nThese changes destroy devices that exist (anything configured on them by other tools is "
                 "lost):\n";
    print_consent_items(std::cout, items);
    std::cout << "Destroy and re-create them now? [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer))
        answer.clear();
    if (answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes")
        std::fill(yes.begin(), yes.end(), true);
    else
        std::cout << "Nothing destroyed.\n";
    return yes;
}

std::string consent_hint(bool through_daemon) {
    return std::string("nothing above was destroyed: run hostdevctl apply on a terminal to be asked, or give "
                       "--yes (all) or --approve OBJECT") +
           (through_daemon ? " (through hostdevd: D-Bus Approve)" : "") +
           "; destroy = \"when-idle\" in the configuration lets hostdevd do it on its own";
}

OptionSpec yes_option() {
    return {"yes", ValueKind::None, "",
            "consent to every action that destroys devices (VFs, mdevs, vGPUs) without asking"};
}

OptionSpec approve_option() {
    return {"approve", ValueKind::Object, "OBJECT",
            "consent to the destroying actions on this PF, VF or mdev UUID (repeatable)", true};
}

} // namespace hostdevd::cli
