// How failed doctest checks print what this project's tests compare most: a std::vector is
// printed element by element, strings quoted with \r and \n made visible, instead of doctest's
// "{?}".
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <type_traits>
#include <vector>

namespace doctest {
template <class T>
struct StringMaker<std::vector<T>> {
    static String convert(const std::vector<T>& values) {
        String text = "{";
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i > 0) text += ", ";
            if constexpr (std::is_same_v<T, std::string>) {
                std::string quoted = "\"";
                for (const char c : values[i]) {
                    quoted += c == '\r'   ? std::string("\\r")
                              : c == '\n' ? std::string("\\n")
                                          : std::string(1, c);
                }
                text += (quoted + "\"").c_str();
            } else {
                text += toString(static_cast<T>(values[i]));
            }
        }
        return text + "}";
    }
};
}  // namespace doctest
