// Human-readable tables for hostdevctl: aligned columns, one header line, no colours (pipes stay clean).
#pragma once

#include "model/observed.hpp"
#include "model/plan.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace hostdevd {

class Table {
public:
    explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    bool empty() const { return rows_.empty(); }
    void render(std::ostream& out) const;

private:
    std::vector<std::string> header_;
    std::vector<std::vector<std::string>> rows_;
};

// `hostdevctl devices`: PFs with their VFs indented beneath, then other devices with drivers, then mdevs.
void render_devices(std::ostream& out, const ObservedState& observed);
// `hostdevctl plan`: every action with its verdict and reason, then the actions on devices that do not
// exist yet (plan/future.hpp, marked "(after the VFs appear)"), then objects that are not converged.
void render_plan(std::ostream& out, const Plan& plan, const std::vector<Action>& future = {});

} // namespace hostdevd
