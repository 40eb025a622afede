#include "tests/expected_cases.hpp"

#include <sstream>
#include <stdexcept>

#include "tests/test_support.hpp"

namespace lhb::test {

ExpectedRuns load_expected_runs(const std::string& path) {
    ExpectedRuns r;
    std::istringstream in(read_file(path));
    std::string line;
    ExpectedCase* current = nullptr;
    bool in_text = false;
    while (std::getline(in, line)) {
        if (!current) {
            if (line.rfind("# tokens:", 0) == 0) {
                std::istringstream ids(line.substr(9));
                for (int id; ids >> id;) r.greedy_tokens.push_back(id);
            } else if (line.rfind("# pos0", 0) == 0) {
                auto a = line.find("argmax=");
                r.pos0_argmax = std::stoi(line.substr(a + 7));
                auto l = line.find("logit=");
                r.pos0_max_logit = std::stof(line.substr(l + 6));
                std::istringstream head(line.substr(line.find("]=") + 2));
                for (float v; head >> v;) r.pos0_logits_head.push_back(v);
            } else if (line.rfind("=== CASE ", 0) == 0) {
                r.cases.push_back({line.substr(9), "", ""});
                current = &r.cases.back();
                in_text = false;
            }
            continue;
        }
        if (line == "=== END") {
            current = nullptr;
        } else if (in_text) {
            current->stdout_text += line + "\n";
        } else if (line.rfind("# cmd: ", 0) == 0) {
            // "./run stories260K.bin <args>"
            std::string cmd = line.substr(7);
            auto first = cmd.find(' ');
            auto second = cmd.find(' ', first + 1);
            current->args = cmd.substr(second + 1);
        } else if (line.rfind("# note:", 0) == 0) {
            in_text = true;
        }
    }
    if (r.cases.empty() || r.greedy_tokens.empty() || r.pos0_logits_head.size() != 5)
        throw std::runtime_error(path + ": unexpected layout");
    return r;
}

void stories260K_greedy_run(std::string* args, std::string* text) {
    const ExpectedRuns runs = load_expected_runs(model_path("expected-stories260K.txt"));
    ASSERT_FALSE(runs.cases.empty());
    const ExpectedCase& c = runs.cases.front();
    ASSERT_EQ(c.args, "-z tok512.bin -t 0 -n 200");
    *args = "generate '" + model_path("stories260K.bin") + "' -z '" + model_path("tok512.bin") + "' -t 0 -n 200";
    *text = c.stdout_text;
}

}  // namespace lhb::test
