package ndndfw

import (
	"testing"

	"github.com/goccy/go-yaml"
)

// TestYAML: the text is YAML with the fields ndnd fw reads, set as asked.
func TestYAML(t *testing.T) {
	var got struct {
		Core struct {
			LogLevel string `yaml:"log_level"`
		}
		Faces struct {
			UDP struct {
				Unicast bool `yaml:"enabled_unicast"`
				Port    int  `yaml:"port_unicast"`
				MTU     int  `yaml:"default_mtu"`
			} `yaml:"udp"`
			Unix struct {
				Enabled bool   `yaml:"enabled"`
				Path    string `yaml:"socket_path"`
			}
		}
		Fw     struct{ Threads int }
		Tables struct {
			Rib struct {
				Readvertise bool `yaml:"readvertise_nlsr"`
			}
		}
	}
	c := Config{Socket: "/tmp/x/nfd.sock", UDP: true, UDPPort: 6363, MTU: 8800, Readvertise: true, Threads: 1}
	if err := yaml.Unmarshal([]byte(c.YAML()), &got); err != nil {
		t.Fatalf("%v\n%s", err, c.YAML())
	}
	u := got.Faces.UDP
	if got.Core.LogLevel != "WARN" || !u.Unicast || u.Port != 6363 || u.MTU != 8800 || !got.Faces.Unix.Enabled ||
		got.Faces.Unix.Path != c.Socket || got.Fw.Threads != 1 || !got.Tables.Rib.Readvertise {
		t.Fatalf("%+v from\n%s", got, c.YAML())
	}
	if err := yaml.Unmarshal([]byte(Config{Socket: "s"}.YAML()), &got); err != nil || got.Faces.UDP.Unicast || got.Tables.Rib.Readvertise {
		t.Fatalf("defaults: %v %+v", err, got)
	}
}
