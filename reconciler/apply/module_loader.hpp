// The module-loading seam: LoadModule actions run `modprobe <module>`. The real loader forks and execs
// the binary directly (no shell: the module name comes from modules.alias and configuration, and must
// never be interpreted); tests use a fake.
#pragma once

#include <string>

namespace hostdevd {

struct ModuleLoadOutcome {
    int error = 0;       // errno that kept modprobe from running (bad name, pipe, fork, waitpid), else 0
    int exit_status = 0; // modprobe's exit status (0 = loaded), -1 if it did not run to completion
    std::string message; // modprobe's stderr, or why it could not run
    bool ok() const { return error == 0 && exit_status == 0; }
};

class ModuleLoader {
public:
    virtual ~ModuleLoader();
    virtual ModuleLoadOutcome load(const std::string& module) = 0;
};

class ModprobeLoader : public ModuleLoader {
public:
    // `modprobe` is the binary to run, looked up in PATH when it has no slash.
    explicit ModprobeLoader(std::string modprobe = "modprobe") : modprobe_(std::move(modprobe)) {}
    ModuleLoadOutcome load(const std::string& module) override;

private:
    std::string modprobe_;
};

} // namespace hostdevd
