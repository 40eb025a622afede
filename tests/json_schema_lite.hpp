#pragma once
// A checker for the subset of JSON Schema (2020-12) that docs/results.schema.json uses:
// type, enum, const, required, properties, additionalProperties, items, minItems, minimum,
// maximum, exclusiveMinimum, minLength, pattern, $ref (local "#/$defs/..."), anyOf, allOf,
// if/then/else. Any other keyword (besides annotations) is reported as unsupported, so
// the schema cannot silently rely on something this checker ignores.
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lhb::test {

class SchemaLite {
public:
    explicit SchemaLite(nlohmann::json schema) : root_(std::move(schema)) {}

    // Every violation, as "<JSON pointer>: <what>"; empty when `doc` is valid.
    std::vector<std::string> validate(const nlohmann::json& doc) const {
        std::vector<std::string> errors;
        check(doc, root_, "", errors);
        return errors;
    }

private:
    using json = nlohmann::json;

    static bool has_type(const json& v, const std::string& t) {
        if (t == "null") return v.is_null();
        if (t == "boolean") return v.is_boolean();
        if (t == "object") return v.is_object();
        if (t == "array") return v.is_array();
        if (t == "string") return v.is_string();
        if (t == "number") return v.is_number();
        if (t == "integer")
            return v.is_number_integer() || (v.is_number_float() && v.get<double>() == double(int64_t(v.get<double>())));
        return false;
    }

    const json& resolve(const std::string& ref) const {
        if (ref.rfind("#/", 0) != 0) throw std::runtime_error("unsupported $ref " + ref);
        return root_.at(json::json_pointer(ref.substr(1)));
    }

    void check(const json& v, const json& s, const std::string& at, std::vector<std::string>& errors) const {
        static const std::set<std::string> known = {
            "type",     "enum",    "const",   "required", "properties", "additionalProperties", "items", "minItems",
            "minimum",  "maximum", "exclusiveMinimum", "minLength", "pattern", "$ref", "anyOf", "allOf", "if",
            "then",     "else",
            // annotations
            "$schema", "$id", "title", "description", "$comment", "$defs", "default", "examples"};
        const std::string where = at.empty() ? "/" : at;
        if (s.is_boolean()) {
            if (!s.get<bool>()) errors.push_back(where + ": not allowed here");
            return;
        }
        for (auto it = s.begin(); it != s.end(); ++it)
            if (!known.count(it.key())) errors.push_back(where + ": schema keyword '" + it.key() + "' unsupported");

        if (s.contains("$ref")) check(v, resolve(s["$ref"]), at, errors);
        if (s.contains("type")) {
            bool ok = false;
            if (s["type"].is_string()) ok = has_type(v, s["type"]);
            else
                for (const auto& t : s["type"]) ok = ok || has_type(v, t);
            if (!ok) {
                errors.push_back(where + ": expected type " + s["type"].dump() + ", found " + v.dump().substr(0, 60));
                return;
            }
        }
        if (s.contains("const") && v != s["const"])
            errors.push_back(where + ": expected " + s["const"].dump() + ", found " + v.dump().substr(0, 60));
        if (s.contains("enum")) {
            bool found = false;
            for (const auto& e : s["enum"]) found = found || e == v;
            if (!found) errors.push_back(where + ": expected one of " + s["enum"].dump() + ", found " + v.dump().substr(0, 60));
        }
        if (v.is_number()) {
            const double d = v.get<double>();
            if (s.contains("minimum") && d < s["minimum"].get<double>())
                errors.push_back(where + ": below minimum " + s["minimum"].dump());
            if (s.contains("maximum") && d > s["maximum"].get<double>())
                errors.push_back(where + ": above maximum " + s["maximum"].dump());
            if (s.contains("exclusiveMinimum") && !(d > s["exclusiveMinimum"].get<double>()))
                errors.push_back(where + ": not above " + s["exclusiveMinimum"].dump());
        }
        if (v.is_string()) {
            const std::string str = v.get<std::string>();
            if (s.contains("minLength") && str.size() < s["minLength"].get<size_t>())
                errors.push_back(where + ": shorter than " + s["minLength"].dump());
            if (s.contains("pattern") && !std::regex_search(str, std::regex(s["pattern"].get<std::string>())))
                errors.push_back(where + ": does not match " + s["pattern"].dump());
        }
        if (v.is_array()) {
            if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>())
                errors.push_back(where + ": fewer than " + s["minItems"].dump() + " items");
            if (s.contains("items"))
                for (size_t i = 0; i < v.size(); ++i) check(v[i], s["items"], at + "/" + std::to_string(i), errors);
        }
        if (v.is_object()) {
            if (s.contains("required"))
                for (const auto& k : s["required"])
                    if (!v.contains(k.get<std::string>())) errors.push_back(where + ": missing required '" + k.get<std::string>() + "'");
            const json props = s.value("properties", json::object());
            for (auto it = v.begin(); it != v.end(); ++it) {
                const std::string child = at + "/" + it.key();
                if (props.contains(it.key())) check(it.value(), props[it.key()], child, errors);
                else if (s.contains("additionalProperties")) check(it.value(), s["additionalProperties"], child, errors);
            }
        }
        if (s.contains("anyOf")) {
            bool any = false;
            for (const auto& alt : s["anyOf"]) {
                std::vector<std::string> sub;
                check(v, alt, at, sub);
                any = any || sub.empty();
            }
            if (!any) errors.push_back(where + ": matches none of anyOf");
        }
        if (s.contains("allOf"))
            for (const auto& part : s["allOf"]) check(v, part, at, errors);
        if (s.contains("if")) {
            std::vector<std::string> cond;
            check(v, s["if"], at, cond);
            if (cond.empty() && s.contains("then")) check(v, s["then"], at, errors);
            if (!cond.empty() && s.contains("else")) check(v, s["else"], at, errors);
        }
    }

    json root_;
};

}  // namespace lhb::test
