// Reading typed values (and `match` tables, `driver` choices) out of TOML nodes, reporting a diagnostic
// at the value's position when the type or the content is wrong (internal to the config loader).
#pragma once

#include "config/diagnostics.hpp"
#include "model/desired.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <toml++/toml.h>

namespace hostdevd::config_detail {

// `key` is the TOML key, used in messages ("`pool` must be a string, not an integer").
std::optional<std::string> read_string(const toml::node& node, std::string_view key, DiagnosticSink& sink);
std::optional<bool> read_bool(const toml::node& node, std::string_view key, DiagnosticSink& sink);
// `destroy = "ask" | "when-idle"`; anything else is an error with the closest value as a suggestion.
std::optional<DestroyPolicy> read_destroy_policy(const toml::node& node, DiagnosticSink& sink);

// An integer within [min, max]; `why` explains the limit in the message (may be empty).
std::optional<uint32_t> read_bounded_integer(const toml::node& node, std::string_view key, uint32_t max,
                                             std::string_view why, DiagnosticSink& sink);

// A free-form label (`pool`, `vgpu`): a non-empty string without control characters.
std::optional<std::string> read_label(const toml::node& node, std::string_view key, DiagnosticSink& sink);

// A `match` (or mdev `parent`) table: known keys, at least one, each value checked and normalised.
// `MdevParent` also accepts `name` (a parent under /sys/class/mdev_bus that is not a PCI device, like
// `mtty`), which stands alone: the other keys describe PCI devices.
enum class MatchKind { Device, MdevParent };
std::optional<Match> read_match(const toml::node& node, std::string_view key, DiagnosticSink& sink,
                                MatchKind kind = MatchKind::Device);

// `driver = "vfio-pci" | "vfio" | "none"`.
std::optional<DriverChoice> read_driver(const toml::node& node, DiagnosticSink& sink);

// True when two matches certainly select the same device(s): the same address, interface name or
// ID_PATH, or identical in every key. Other overlaps need the hardware and are the planner's business.
bool same_selection(const Match& a, const Match& b);

} // namespace hostdevd::config_detail
