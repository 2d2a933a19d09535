// Which journal entry (journal.hpp) each [export] file event of the keeper (export/keeper.hpp) becomes,
// decided without I/O so that the priorities are table-tested:
//   - failed: err, once per distinct failure (a consumer is left with an old or no file; the daemon goes
//     on and retries at every pass);
//   - written again after a failure: notice;
//   - new content: info, except the metrics, which change at every pass (the time of the last one): debug.
#pragma once

#include "daemon/journal.hpp"
#include "export/keeper.hpp"

namespace hostdevd {

journal::Event export_event(const ExportFileEvent& event);

} // namespace hostdevd
