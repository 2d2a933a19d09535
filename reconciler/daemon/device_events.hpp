// Which of the daemon's observations become journal events (journal.hpp), decided without I/O so that
// the rules are table-tested: an executed action (applied / failed / what it destroyed), and the state
// changes of the published objects (blocked once per reason, converged after having been something else).
#pragma once

#include "apply/executor.hpp"
#include "daemon/journal.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"
#include "report/views.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace hostdevd {

// The events of one executed action. `before` is the observation the action was planned from: it says
// which VFs a sriov_numvfs write destroyed.
std::vector<journal::Event> action_events(const Action& action, const ActionResult& result,
                                          const ObservedState& before);

// Remembers each published object's state and reason between passes, and turns changes into events:
//   - blocked: when an object becomes blocked, or its reason (the holders) changes while blocked; a
//     blocked object that stays blocked pass after pass (the holder re-check) is logged once;
//   - converged: when an object that was pending, blocked or failed reaches the configured state (an
//     object already converged when first seen is not logged: a restart does not repeat history).
// Failures are not logged here: the executor's outcome is (action_events), with the failing write.
class StateJournal {
public:
    // `keys`: the objects whose views were re-derived (nullptr: all of them). Objects whose views are
    // gone are forgotten.
    std::vector<journal::Event> update(const Views& views, const std::set<std::string>* keys);

private:
    struct Seen {
        std::string state, reason;
    };
    void visit(const std::string& key, const std::string& state, const std::string& reason,
               const std::vector<std::string>& holders, std::vector<journal::Event>& out);
    std::map<std::string, Seen> seen_;
};

} // namespace hostdevd
