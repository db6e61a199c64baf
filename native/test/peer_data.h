// peer_data.h: bench/peers.txt for the C++ drivers (native_check --bench, cuda_check --bench): the
// PEERS.md data formulas' constants and the reference loss values, read from the one committed
// file the Java and Python benchmarks read too. Header-only, test drivers only.
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

// Where the file is: the build passes FL_PEERS_FILE (CMake: the source tree's bench/peers.txt);
// --peers PATH overrides it.
#ifndef FL_PEERS_FILE
#define FL_PEERS_FILE "bench/peers.txt"
#endif

struct PeersFile {
    struct Hash {
        uint64_t multiplier = 0, addend = 0;
        uint32_t operator()(uint64_t i) const { return (uint32_t)(i * multiplier + addend); }
    };
    struct Uniform {
        std::string hash;
        double span = 0, low = 0;
    };
    struct Periodic {
        double base = 0, step = 0;
        int64_t period = 1;
        float operator()(int64_t j) const { return (float)(base + (double)(j % period) * step); }
    };
    std::map<std::string, Hash> hashes;
    std::map<std::string, Uniform> uniforms;
    std::map<std::string, std::pair<std::string, int>> bits;
    std::map<std::string, Periodic> periodic;
    std::map<std::string, double> expected;  // "case NxC" -> loss
    uint64_t label_multiplier = 0, label_addend = 0;

    // Reads the file; exits with a message when it cannot.
    static PeersFile read(const std::string& path) {
        FILE* f = fopen(path.c_str(), "r");
        if (!f) {
            fprintf(stderr, "cannot read %s (the PEERS.md data; --peers PATH)\n", path.c_str());
            exit(2);
        }
        PeersFile p;
        char line[512];
        while (fgets(line, sizeof line, f)) {
            std::string l(line);
            l = l.substr(0, l.find('#'));
            std::istringstream in(l);
            std::string key;
            if (!(in >> key)) continue;
            if (key == "hash") {
                std::string name;
                Hash h;
                in >> name >> h.multiplier >> h.addend;
                p.hashes[name] = h;
            } else if (key == "uniform") {
                std::string name;
                Uniform u;
                in >> name >> u.hash >> u.span >> u.low;
                p.uniforms[name] = u;
            } else if (key == "bit") {
                std::string name, hash;
                int shift;
                in >> name >> hash >> shift;
                p.bits[name] = {hash, shift};
            } else if (key == "labels") {
                in >> p.label_multiplier >> p.label_addend;
            } else if (key == "periodic") {
                std::string name;
                Periodic w;
                in >> name >> w.base >> w.period >> w.step;
                p.periodic[name] = w;
            } else if (key == "expected") {
                std::string name, shape;
                double v;
                in >> name >> shape >> v;
                p.expected[name + " " + shape] = v;
            }  // "peer" lines (times) are the Java summary's
        }
        fclose(f);
        return p;
    }

    const Hash& hash(const std::string& name) const { return hashes.at(name); }

    // (float)(hash(i) / 2^32 * span + low), in double
    float uniform(const std::string& name, uint64_t i) const {
        const Uniform& u = uniforms.at(name);
        return (float)(hash(u.hash)(i) / 4294967296.0 * u.span + u.low);
    }

    float bit(const std::string& name, uint64_t i) const {
        const auto& b = bits.at(name);
        return (float)(hash(b.first)(i) >> b.second);
    }

    int32_t label(int64_t n, int64_t c) const { return (int32_t)(((uint64_t)n * label_multiplier + label_addend) % (uint64_t)c); }

    double expected_loss(const std::string& name, int64_t n, int64_t c) const {
        auto it = expected.find(name + " " + std::to_string(n) + "x" + std::to_string(c));
        return it == expected.end() ? NAN : it->second;
    }
};
